// The pod sandbox ("pause") image of the kind node image: the project's own code, no dependencies.
module spofless.dev/hack/images/pause

go 1.26.0
