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

{{/* Full image reference: include "telemetry.image" (list . .Values.collector.image) */}}
{{- define "telemetry.image" -}}
{{- $root := index . 0 -}}
{{- $tag := default $root.Chart.AppVersion $root.Values.image.tag -}}
{{- if $root.Values.image.registry -}}
{{- printf "%s/%s:%s" $root.Values.image.registry (index . 1) $tag -}}
{{- else -}}
{{- printf "%s:%s" (index . 1) $tag -}}
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
