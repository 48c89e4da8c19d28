{{- define "stockpulse.ingestEnv" -}}
- name: STOCKPULSE_KAFKA_BOOTSTRAP
  value: {{ include "stockpulse.kafkaBootstrap" . | quote }}
- name: STOCKPULSE_WAREHOUSE
  value: {{ .Values.lake.warehouse | quote }}
- name: STOCKPULSE_CHECKPOINT_DIR
  value: {{ trimSuffix "/" .Values.lake.checkpointDir | quote }}
- name: STOCKPULSE_RUN_DIR
  value: /tmp/stockpulse
- name: STOCKPULSE_METASTORE_URI
  value: {{ include "stockpulse.metastoreUri" . | quote }}
- name: STOCKPULSE_TRIGGER_SECONDS
  value: {{ .Values.ingest.triggerSeconds | quote }}
- name: STOCKPULSE_TICKERS
  value: {{ .Values.config.tickers | quote }}
- name: LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- with .Values.ingest.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- define "stockpulse.ingestMounts" -}}
- name: tmp
  mountPath: /tmp
- name: work-dir
  mountPath: /opt/spark/work-dir
{{- if .Values.lake.volume.enabled }}
- name: lake
  mountPath: {{ .Values.lake.volume.mountPath }}
{{- end }}
{{- end }}
{{/*
The Spark application both the ingest (SparkApplication) and the maintenance
(ScheduledSparkApplication) run: one image, one configuration, one pod shape.
Call with (dict "ctx" $ "c" <component dict> "mainApplicationFile" <local:// path> "metrics" <bool>
"serviceAccount" <name, default: the component's>);
the result is indented for a SparkApplicationSpec at two spaces.
*/}}
{{- define "stockpulse.sparkApplicationSpec" -}}
{{- $ctx := .ctx }}
{{- $c := .c }}
{{- $driverMem := include "stockpulse.sparkMemory" (dict "memory" $ctx.Values.ingest.driver.memory "factor" $ctx.Values.ingest.memoryOverheadFactor) | splitList " " }}
{{- $executorMem := include "stockpulse.sparkMemory" (dict "memory" $ctx.Values.ingest.executor.memory "factor" $ctx.Values.ingest.memoryOverheadFactor) | splitList " " -}}
type: Python
pythonVersion: "3"
mode: cluster
image: {{ include "stockpulse.image" (dict "ctx" $ctx "image" $ctx.Values.ingest.image) | quote }}
imagePullPolicy: {{ $ctx.Values.ingest.image.pullPolicy }}
{{- with $ctx.Values.imagePullSecrets }}
imagePullSecrets:
  {{- range . }}
  - {{ .name }}
  {{- end }}
{{- end }}
mainApplicationFile: {{ .mainApplicationFile }}
sparkVersion: {{ $ctx.Values.ingest.sparkVersion | quote }}
sparkConf:
  spark.sql.session.timeZone: UTC
  spark.sql.streaming.metricsEnabled: "true"
  spark.ui.prometheus.enabled: "true"
  spark.jars.ivy: /tmp/.ivy2
  {{- range $k, $v := $ctx.Values.ingest.sparkConf }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- with $ctx.Values.ingest.hadoopConf }}
hadoopConf:
  {{- range $k, $v := . }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 1Gi
  - name: work-dir
    emptyDir:
      sizeLimit: 1Gi
  {{- if $ctx.Values.lake.volume.enabled }}
  - name: lake
    persistentVolumeClaim:
      claimName: {{ include "stockpulse.componentName" (dict "ctx" $ctx "component" "lake") }}
  {{- end }}
driver:
  cores: {{ $ctx.Values.ingest.driver.cores }}
  {{- with $ctx.Values.ingest.driver.coreRequest }}
  coreRequest: {{ . | quote }}
  {{- end }}
  coreLimit: {{ $ctx.Values.ingest.driver.coreLimit | quote }}
  # heap + overhead = the pod's memory request; the limit is the same sum (stockpulse.sparkMemory)
  memory: {{ printf "%sm" (index $driverMem 0) | quote }}
  memoryOverhead: {{ printf "%sm" (index $driverMem 1) | quote }}
  memoryLimit: {{ printf "%sMi" (index $driverMem 2) | quote }}
  serviceAccount: {{ if .serviceAccount }}{{ .serviceAccount }}{{ else }}{{ include "stockpulse.serviceAccountName" $c }}{{ end }}
  labels:
    {{- include "stockpulse.labels" $c | nindent 4 }}
  env:
    {{- include "stockpulse.ingestEnv" $ctx | nindent 4 }}
    {{- if .metrics }}
    - name: STOCKPULSE_INGEST_METRICS_BIND
      value: {{ printf "0.0.0.0:%d" (int $ctx.Values.ingest.metrics.port) | quote }}
    {{- end }}
  {{- if .metrics }}
  ports:
    - name: metrics
      containerPort: {{ $ctx.Values.ingest.metrics.port }}
      protocol: TCP
  {{- end }}
  volumeMounts:
    {{- include "stockpulse.ingestMounts" $ctx | nindent 4 }}
  podSecurityContext:
    {{- include "stockpulse.podSecurityContext" $ctx | nindent 4 }}
  securityContext:
    {{- include "stockpulse.containerSecurityContext" $ctx | nindent 4 }}
executor:
  instances: {{ $ctx.Values.ingest.executor.instances }}
  cores: {{ $ctx.Values.ingest.executor.cores }}
  {{- with $ctx.Values.ingest.executor.coreRequest }}
  coreRequest: {{ . | quote }}
  {{- end }}
  coreLimit: {{ $ctx.Values.ingest.executor.coreLimit | quote }}
  # heap + overhead = the pod's memory request; the limit is the same sum (stockpulse.sparkMemory)
  memory: {{ printf "%sm" (index $executorMem 0) | quote }}
  memoryOverhead: {{ printf "%sm" (index $executorMem 1) | quote }}
  memoryLimit: {{ printf "%sMi" (index $executorMem 2) | quote }}
  labels:
    {{- include "stockpulse.labels" $c | nindent 4 }}
  env:
    {{- include "stockpulse.ingestEnv" $ctx | nindent 4 }}
  volumeMounts:
    {{- include "stockpulse.ingestMounts" $ctx | nindent 4 }}
  podSecurityContext:
    {{- include "stockpulse.podSecurityContext" $ctx | nindent 4 }}
  securityContext:
    {{- include "stockpulse.containerSecurityContext" $ctx | nindent 4 }}
{{- end }}
