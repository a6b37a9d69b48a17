{{/* The chart's name, and the name of everything it makes: the release name if it holds the chart's. */}}
{{- define "spofless.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "spofless.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "spofless.selectorLabels" -}}
app.kubernetes.io/name: {{ include "spofless.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: operator
{{- end -}}

{{/* Not app.kubernetes.io/managed-by: spofless: that label marks the children the operator owns. */}}
{{- define "spofless.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "spofless.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: spofless
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "spofless.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/*
The operator's API calls, as RBAC rules sorted by API group and resource: "group|resource|verbs|scope".
scope: "ns" for what a Role in a watched namespace grants, "cluster" for what only a ClusterRole can
(cluster-scoped kinds), "some" for what only an operator watching some namespaces needs.
Called with (dict "scope" "all"|"ns"|"cluster"): "all" is "ns" and "cluster",
for the one ClusterRole of an operator watching every namespace; "cluster" includes "some".
*/}}
{{- define "spofless.rules" -}}
{{- $table := list
  "|events|create|ns"
  "|namespaces|list,watch|some"
  "|nodes|list,watch|cluster"
  "|pods|list,watch|ns"
  "|pods/eviction|create|ns"
  "|pods/status|patch|ns"
  "|services|list,watch,create,patch|ns"
  "apiextensions.k8s.io|customresourcedefinitions|list,watch|cluster"
  "apps|deployments|list,watch,create,patch,delete|ns"
  "apps|deployments/scale|patch|ns"
  "apps|statefulsets|list,watch|ns"
  "discovery.k8s.io|endpointslices|list,watch|ns"
  "policy|poddisruptionbudgets|list,watch,create,patch,delete|ns"
  "spofless.dev|resilientsites|list,watch|ns"
  "spofless.dev|resilientsites/status|patch|ns"
}}
{{- range $table }}
{{- $rule := splitList "|" . }}
{{- $scope := index $rule 3 }}
{{- if or (eq $.scope $scope) (and (eq $.scope "all") (ne $scope "some")) (and (eq $.scope "cluster") (eq $scope "some")) }}
- apiGroups: [{{ index $rule 0 | quote }}]
  resources: [{{ index $rule 1 }}]
  verbs: [{{ index $rule 2 | replace "," ", " }}]
{{- end }}
{{- end }}
{{- end -}}

{{/* Labels every alert carries besides its severity (metrics.prometheusRule.alertLabels), on lines of
their own under `labels:`; nothing when there are none. */}}
{{- define "spofless.alertLabels" -}}
{{- with .alertLabels }}{{ toYaml . | nindent 8 }}{{ end -}}
{{- end -}}

{{/* An alert's runbook_url on a line of its own under `annotations:`, when
metrics.prometheusRule.runbookBaseUrl says where the docs are served: the runbook's heading is the
alert's name, which MkDocs turns into a lower-case anchor. Called with (list RULE-VALUES ALERT). */}}
{{- define "spofless.runbook" -}}
{{- with (index . 0).runbookBaseUrl }}{{ printf "runbook_url: %s" (printf "%s#%s" . (index $ 1 | lower) | quote) | nindent 8 }}{{ end -}}
{{- end -}}
