"""The model: what the API says (the site's spec and status), names and labels, events, kinds."""
