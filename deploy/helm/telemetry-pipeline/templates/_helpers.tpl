{{/* Chart name and labels. */}}
{{- define "telemetry.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "telemetry.labels" -}}
app.kubernetes.io/part-of: {{ include "telemetry.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* Selector labels for one component: include "telemetry.selector" (list . "collector") */}}
{{- define "telemetry.selector" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ index . 1 }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
{{- end -}}

{{/*
Full image reference of one service:
  include "telemetry.image" (list . .Values.collector.image)
  include "telemetry.image" (list . .Values.gateway.image .Values.apiGateway.image)
The service's image is a map (repository, registry, tag) or just a name. Each part
comes from the first non-empty of: the alias map (third item, the gateway's
apiGateway.image), the service's image, then for the registry image.registry, and
for the tag image.tag, global.imageTag and the chart's appVersion.
*/}}
{{- define "telemetry.image" -}}
{{- $root := index . 0 -}}
{{- $own := index . 1 -}}
{{- if not (kindIs "map" $own) -}}
{{- $own = dict "repository" $own -}}
{{- end -}}
{{- $alias := dict -}}
{{- if gt (len .) 2 -}}
{{- $alias = default (dict) (index . 2) -}}
{{- end -}}
{{- $repository := coalesce (get $alias "repository") (get $own "repository") -}}
{{- $registry := coalesce (get $alias "registry") (get $own "registry") $root.Values.image.registry -}}
{{- $tag := coalesce (get $alias "tag") (get $own "tag") $root.Values.image.tag $root.Values.global.imageTag $root.Chart.AppVersion | toString -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry $repository $tag -}}
{{- else -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Redis address and password Secret, bundled or external. */}}
{{- define "telemetry.redisHost" -}}
{{- if eq .Values.redis.mode "external" -}}
{{- required "redis.host is required when redis.mode is external" .Values.redis.host -}}
{{- else -}}
{{- printf "%s-redis:6379" .Release.Name -}}
{{- end -}}
{{- end -}}

{{- define "telemetry.redisSecret" -}}
{{- if .Values.redis.existingSecret -}}
{{- .Values.redis.existingSecret -}}
{{- else -}}
{{- printf "%s-redis" .Release.Name -}}
{{- end -}}
{{- end -}}

{{/* Dapr annotations shared by the three pods. */}}
{{- define "telemetry.daprCommon" -}}
dapr.io/enabled: "true"
dapr.io/config: {{ .Values.dapr.configName | quote }}
dapr.io/enable-metrics: "true"
dapr.io/metrics-port: {{ .Values.dapr.metricsPort | quote }}
dapr.io/log-level: {{ .Values.dapr.logLevel | quote }}
dapr.io/sidecar-cpu-request: {{ .Values.dapr.sidecar.cpuRequest | quote }}
dapr.io/sidecar-memory-request: {{ .Values.dapr.sidecar.memoryRequest | quote }}
dapr.io/sidecar-cpu-limit: {{ .Values.dapr.sidecar.cpuLimit | quote }}
dapr.io/sidecar-memory-limit: {{ .Values.dapr.sidecar.memoryLimit | quote }}
{{- if .Values.dapr.appTokenSecret }}
dapr.io/app-token-secret: {{ .Values.dapr.appTokenSecret | quote }}
{{- end }}
{{- end -}}

{{/* Environment shared by the three containers. */}}
{{- define "telemetry.commonEnv" -}}
- name: LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: LOG_FORMAT
  value: {{ .Values.logFormat | quote }}
- name: DAPR_STATE_STORE
  value: {{ .Values.dapr.stateStoreName | quote }}
{{- if .Values.otel.endpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ .Values.otel.endpoint | quote }}
{{- end }}
{{- if .Values.dapr.appTokenSecret }}
- name: APP_API_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ .Values.dapr.appTokenSecret }}
      key: token
{{- end }}
{{- end -}}

{{/* Pod and container hardening. */}}
{{- define "telemetry.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
fsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "telemetry.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
capabilities:
  drop: ["ALL"]
{{- end -}}
