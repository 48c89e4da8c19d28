{{/*
Chart name, truncated to the 63 characters of a DNS label.
*/}}
{{- define "stockpulse.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Fully qualified app name: `<release>-<chart>` unless the release name already holds the chart name.
*/}}
{{- define "stockpulse.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
`<chart>-<version>` for the helm.sh/chart label.
*/}}
{{- define "stockpulse.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Selector labels of one component. Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "stockpulse.selectorLabels" -}}
app.kubernetes.io/name: {{ include "stockpulse.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/*
Full labels of one component. Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "stockpulse.labels" -}}
helm.sh/chart: {{ include "stockpulse.chart" .ctx }}
{{ include "stockpulse.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: stockpulse
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/*
Name of one component's resources: `<fullname>-<component>`.
Call with (dict "ctx" $ "component" "api").
*/}}
{{- define "stockpulse.componentName" -}}
{{- printf "%s-%s" (include "stockpulse.fullname" .ctx) .component | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Image reference. Call with (dict "ctx" $ "image" .Values.api.image).
A digest wins over the tag; the tag defaults to the chart appVersion (never `latest`).
*/}}
{{- define "stockpulse.image" -}}
{{- $repo := .image.repository }}
{{- with .ctx.Values.imageRegistry }}
{{- $repo = printf "%s/%s" (trimSuffix "/" .) $repo }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $repo .image.digest }}
{{- else }}
{{- $tag := default .ctx.Chart.AppVersion (toString .image.tag) }}
{{- if eq $tag "latest" }}
{{- fail (printf "image %s: the tag `latest` is not allowed, pin a version" $repo) }}
{{- end }}
{{- printf "%s:%s" $repo $tag }}
{{- end }}
{{- end }}

{{/*
ServiceAccount name of one component. Call with (dict "ctx" $ "component" "api" "sa" .Values.api.serviceAccount).
*/}}
{{- define "stockpulse.serviceAccountName" -}}
{{- if .sa.create }}
{{- default (include "stockpulse.componentName" .) .sa.name }}
{{- else }}
{{- default "default" .sa.name }}
{{- end }}
{{- end }}

{{/*
Restricted pod and container security contexts.
*/}}
{{- define "stockpulse.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "stockpulse.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/*
Kafka cluster name and bootstrap address, by `kafka.mode`.
*/}}
{{- define "stockpulse.kafkaClusterName" -}}
{{- default (include "stockpulse.componentName" (dict "ctx" . "component" "kafka")) .Values.kafka.clusterName | trunc 40 | trimSuffix "-" }}
{{- end }}

{{- define "stockpulse.kafkaBootstrap" -}}
{{- if eq .Values.kafka.mode "strimzi" }}
{{- printf "%s-kafka-bootstrap:9092" (include "stockpulse.kafkaClusterName" .) }}
{{- else if eq .Values.kafka.mode "statefulset" }}
{{- printf "%s-bootstrap:9092" (include "stockpulse.kafkaClusterName" .) }}
{{- else }}
{{- required "kafka.externalBootstrap is required when kafka.mode is external" .Values.kafka.externalBootstrap }}
{{- end }}
{{- end }}

{{/*
Hive metastore Service name and thrift URI.
*/}}
{{- define "stockpulse.metastoreName" -}}
{{- include "stockpulse.componentName" (dict "ctx" . "component" "hive-metastore") }}
{{- end }}

{{- define "stockpulse.metastoreUri" -}}
{{- if .Values.hiveMetastore.enabled }}
{{- printf "thrift://%s:%v" (include "stockpulse.metastoreName" .) .Values.hiveMetastore.port }}
{{- else }}
{{- required "hiveMetastore.externalUri is required when hiveMetastore.enabled is false" .Values.hiveMetastore.externalUri }}
{{- end }}
{{- end }}

{{/*
Postgres of the metastore: name, host and password Secret.
*/}}
{{- define "stockpulse.postgresName" -}}
{{- include "stockpulse.componentName" (dict "ctx" . "component" "hive-metastore-db") }}
{{- end }}

{{- define "stockpulse.postgresHost" -}}
{{- if .Values.postgresql.enabled }}
{{- include "stockpulse.postgresName" . }}
{{- else }}
{{- required "hiveMetastore.database.host is required when postgresql.enabled is false" .Values.hiveMetastore.database.host }}
{{- end }}
{{- end }}

{{/*
Whether the chart's Postgres runs: the metastore's database, and the API's Idempotency-Key records.
*/}}
{{- define "stockpulse.postgresNeeded" -}}
{{- if and .Values.postgresql.enabled (or .Values.hiveMetastore.enabled .Values.api.enabled) }}true{{ end }}
{{- end }}

{{/*
libpq URI of the API's Idempotency-Key database (the password comes from a file, never the URI).
*/}}
{{- define "stockpulse.idempotencyDsn" -}}
{{- $db := .Values.hiveMetastore.database }}
{{- printf "postgresql://%s@%s:%v/%s" $db.user (include "stockpulse.postgresHost" .) $db.port .Values.api.idempotency.database }}
{{- end }}

{{- define "stockpulse.postgresSecretName" -}}
{{- default (include "stockpulse.postgresName" .) .Values.hiveMetastore.database.existingSecret }}
{{- end }}

{{/*
imagePullSecrets block for a pod spec.
*/}}
{{- define "stockpulse.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
API Service URL (Locust's default target).
*/}}
{{- define "stockpulse.apiUrl" -}}
{{- printf "http://%s:%v" (include "stockpulse.componentName" (dict "ctx" . "component" "api")) .Values.api.service.port }}
{{- end }}

{{/*
Memory of a Spark driver or executor pod: the one place it is computed. Spark sizes a pod
as heap + overhead, overhead = max(384 MiB, factor x heap); the chart passes that overhead
explicitly and sets the container limit to the sum, so the limit can never fall below the
request Spark makes (the API server would refuse the pod). Call with
(dict "memory" "1g" "factor" 0.4); returns "heapMiB overheadMiB podMiB".
*/}}
{{- define "stockpulse.sparkMemory" -}}
{{- $m := regexFind "^[0-9]+[mg]$" (toString .memory) }}
{{- if not $m }}
{{- fail (printf "Spark memory %q must be <n>m or <n>g" (toString .memory)) }}
{{- end }}
{{- $heap := trimSuffix "g" (trimSuffix "m" $m) | int }}
{{- if hasSuffix "g" $m }}
{{- $heap = mul $heap 1024 }}
{{- end }}
{{- $overhead := max 384 (mulf $heap (float64 .factor) | floor | int) }}
{{- printf "%d %d %d" $heap $overhead (add $heap $overhead) }}
{{- end }}

{{/*
Locust master pod spec, shared by the UI Deployment and the headless Job.
*/}}
{{- define "stockpulse.locustMasterPodSpec" -}}
{{- $v := .Values.locust }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- include "stockpulse.imagePullSecrets" . }}
securityContext:
  {{- include "stockpulse.podSecurityContext" . | nindent 2 }}
{{- if $v.headless }}
restartPolicy: Never
{{- end }}
containers:
  - name: master
    image: {{ include "stockpulse.image" (dict "ctx" . "image" $v.image) | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    ports:
      - name: web
        containerPort: 8089
        protocol: TCP
      - name: master
        containerPort: 5557
        protocol: TCP
    env:
      {{- if gt (int $v.workers) 0 }}
      - name: LOCUST_MODE_MASTER
        value: "true"
      - name: LOCUST_EXPECT_WORKERS
        value: {{ $v.workers | quote }}
      {{- end }}
      {{- include "stockpulse.locustEnv" . | nindent 6 }}
      - name: LOCUST_HEADLESS
        value: {{ $v.headless | quote }}
      {{- if $v.headless }}
      - name: LOCUST_RUN_TIME
        value: {{ $v.runTime | quote }}
      {{- end }}
    {{- if and $v.headless (eq (int $v.workers) 0) }}
    {{- /* A standalone headless run listens on no port: the Job's own deadline bounds it. */}}
    {{- else if $v.headless }}
    livenessProbe:
      tcpSocket:
        port: master
      periodSeconds: 20
    readinessProbe:
      tcpSocket:
        port: master
      periodSeconds: 10
    {{- else }}
    livenessProbe:
      tcpSocket:
        port: web
      periodSeconds: 20
    readinessProbe:
      httpGet:
        path: /
        port: web
      periodSeconds: 10
    {{- end }}
    resources:
      {{- toYaml $v.master.resources | nindent 6 }}
    securityContext:
      {{- include "stockpulse.containerSecurityContext" . | nindent 6 }}
    volumeMounts:
      - name: tmp
        mountPath: /tmp
      - name: home
        mountPath: /home/locust
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
  - name: home
    emptyDir:
      sizeLimit: 64Mi
{{- end }}

{{/*
Environment shared by Locust master and workers.
*/}}
{{- define "stockpulse.locustEnv" -}}
- name: LOCUST_LOCUSTFILE
  value: /opt/stockpulse/loadtest/locustfile.py
- name: LOCUST_HOST
  value: {{ default (include "stockpulse.apiUrl" .) .Values.locust.host | quote }}
- name: LOCUST_USERS
  value: {{ .Values.locust.users | quote }}
- name: LOCUST_SPAWN_RATE
  value: {{ .Values.locust.spawnRate | quote }}
- name: STOCKPULSE_TICKERS
  value: {{ .Values.config.tickers | quote }}
{{- if .Values.locust.logOrders }}
- name: STOCKPULSE_ORDER_LOG
  value: stdout
{{- end }}
- name: STOCKPULSE_ORDER_RETRY_S
  value: {{ .Values.locust.orderRetrySeconds | quote }}
- name: STOCKPULSE_ORDER_REPLAY_SHARE
  value: {{ .Values.locust.orderReplayShare | quote }}
{{- end }}
