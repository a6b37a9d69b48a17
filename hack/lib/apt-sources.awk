# The first http(s) mirror that apt's sources name for `suite` (awk -v suite=...), given files in
# either format: one-line ("deb [opts] URI SUITE COMPONENTS...", *.list) and deb822 (*.sources:
# stanzas of "Key: value" lines, blank-line separated, continuation lines indented). Used by
# debian_mirror in images.sh; tests/hack drive it with files they write.
function has(list, word,    n, i, parts) {
  n = split(list, parts, /[ \t]+/)
  for (i = 1; i <= n; i++) if (parts[i] == word) return 1
  return 0
}
function first_http(list,    n, i, parts) {
  n = split(list, parts, /[ \t]+/)
  for (i = 1; i <= n; i++) if (parts[i] ~ /^https?:\/\//) return parts[i]
  return ""
}
function stanza_end(    uri) {
  if (has(types, "deb") && tolower(enabled) != "no" && has(suites, suite)) {
    uri = first_http(uris)
    if (uri != "") { print uri; found = 1; exit }
  }
  types = uris = suites = enabled = key = ""
}
FNR == 1 { if (deb822) stanza_end(); deb822 = (FILENAME ~ /\.sources$/) }
deb822 && /^#/ { next } # a comment line, not a stanza break
{ sub(/#.*/, "") }
deb822 && /^[ \t]*$/ { stanza_end(); next }
deb822 && /^[ \t]/ {
  if (key == "uris") uris = uris " " $0
  else if (key == "suites") suites = suites " " $0
  else if (key == "types") types = types " " $0
  next
}
deb822 && /^[A-Za-z-]+:/ {
  key = tolower(substr($0, 1, index($0, ":") - 1))
  v = substr($0, index($0, ":") + 1)
  if (key == "types") types = v
  else if (key == "uris") uris = v
  else if (key == "suites") suites = v
  else if (key == "enabled") { enabled = v; gsub(/[ \t]/, "", enabled) }
  next
}
!deb822 && $1 == "deb" {
  i = 2
  if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
  if ($(i) ~ /^https?:\/\// && $(i + 1) == suite) { print $(i); found = 1; exit }
}
END { if (!found && deb822) stanza_end() }
