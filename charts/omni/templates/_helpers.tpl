{{/* Names ------------------------------------------------------------------------------------------------ */}}

{{- define "omni.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "omni.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The name of one service's objects: <fullname>-<service>. Call with (dict "root" $ "service" "orders"). */}}
{{- define "omni.serviceName" -}}
{{- printf "%s-%s" (include "omni.fullname" .root) .service | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "omni.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "omni.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* Policy resources (Kubernetes mode) -------------------------------------------------------------------- */}}

{{/* The custom resources (plural, group omni.dev) each service watches in Kubernetes mode. */}}
{{- define "omni.policyResources" -}}
allocation: bufferpolicies
fulfillment: routingpolicies
{{- end -}}

{{/*
"true" when the service watches policy resources: policies.kubernetes.enabled and a service that has a kind to
watch. Call with (dict "root" $ "service" "allocation").
*/}}
{{- define "omni.watchesPolicies" -}}
{{- if and .root.Values.policies.kubernetes.enabled (hasKey (fromYaml (include "omni.policyResources" .root)) .service) -}}
true
{{- end -}}
{{- end -}}

{{/* A service's account: its own policy reader when it watches policy resources, else the shared one. */}}
{{- define "omni.podServiceAccountName" -}}
{{- if include "omni.watchesPolicies" . -}}
{{- include "omni.serviceName" . -}}
{{- else -}}
{{- include "omni.serviceAccountName" .root -}}
{{- end -}}
{{- end -}}

{{/* Labels ----------------------------------------------------------------------------------------------- */}}

{{- define "omni.selectorLabels" -}}
app.kubernetes.io/name: {{ include "omni.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "omni.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "omni.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: omni
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Labels of one service's objects. Call with (dict "root" $ "service" "orders"). */}}
{{- define "omni.serviceLabels" -}}
{{ include "omni.labels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{- define "omni.serviceSelectorLabels" -}}
{{ include "omni.selectorLabels" .root }}
app.kubernetes.io/component: {{ .service }}
{{- end -}}

{{/* Image ------------------------------------------------------------------------------------------------ */}}

{{- define "omni.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Per-service settings: serviceDefaults merged under the service's own entry. */}}
{{- define "omni.serviceConfig" -}}
{{- $defaults := deepCopy .root.Values.serviceDefaults -}}
{{- $own := deepCopy (index .root.Values.services .service) -}}
{{- toYaml (mergeOverwrite $defaults $own) -}}
{{- end -}}

{{/* Secrets ---------------------------------------------------------------------------------------------- */}}

{{/* The chart's own Secret for inline (development) values. */}}
{{- define "omni.inlineSecretName" -}}
{{- printf "%s-inline" (include "omni.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "omni.settingsSecretName" -}}
{{- default (printf "%s-settings" (include "omni.fullname" .) | trunc 63 | trimSuffix "-") .Values.settings.existingSecret -}}
{{- end -}}

{{/*
An env entry for a secret setting. Call with (dict "root" $ "env" "OMNI__REDIS__URL" "ref" .Values.redis.url "inlineKey" "redis-url").
An inline value goes into the chart's Secret under inlineKey; otherwise the existing Secret is referenced.
*/}}
{{- define "omni.secretEnv" -}}
- name: {{ .env }}
  valueFrom:
    secretKeyRef:
{{- if .ref.value }}
      name: {{ include "omni.inlineSecretName" .root }}
      key: {{ .inlineKey }}
{{- else }}
      name: {{ required (printf "%s: set existingSecret (or value, for development)" .what) .ref.existingSecret }}
      key: {{ required (printf "%s: set the key in %s" .what .ref.existingSecret) .ref.key }}
{{- end }}
{{- end -}}

{{/* The database env of one service: its own URL if it has one, else the shared URL. */}}
{{- define "omni.databaseEnv" -}}
{{- $root := .root -}}
{{- $own := index $root.Values.postgresql.perService .service -}}
{{- if $own -}}
{{ include "omni.secretEnv" (dict "root" $root "env" (printf "OMNI__DATABASE__URLS__%s" (upper .service)) "ref" $own "inlineKey" (printf "database-url-%s" .service) "what" (printf "postgresql.perService.%s" .service)) }}
{{- else -}}
{{ include "omni.secretEnv" (dict "root" $root "env" "OMNI__DATABASE__URL" "ref" $root.Values.postgresql.url "inlineKey" "database-url" "what" "postgresql.url") }}
{{- end -}}
{{- end -}}

{{/* Whether any inline secret value is set (then the chart renders its Secret). */}}
{{- define "omni.hasInlineSecrets" -}}
{{- $any := or .Values.redis.url.value .Values.postgresql.url.value .Values.payments.keyEncryptionKey.value .Values.payments.webhookSecret.value -}}
{{- range $svc, $ref := .Values.postgresql.perService -}}
{{- if $ref.value -}}{{- $any = true -}}{{- end -}}
{{- end -}}
{{- if $any -}}true{{- end -}}
{{- end -}}

{{/* Hook annotations for objects the migrations Job needs before the release's own objects exist. */}}
{{- define "omni.preHookAnnotations" -}}
helm.sh/hook: pre-install,pre-upgrade
helm.sh/hook-weight: {{ .weight | quote }}
helm.sh/hook-delete-policy: before-hook-creation
{{- end -}}

{{/* Pod and container security ------------------------------------------------------------------------- */}}

{{/*
The pod's service account token, security context and pull secrets. Call with (dict "root" $ "token" true|false):
only the pods that watch policy resources (omni.watchesPolicies) mount a token.
*/}}
{{- define "omni.podSecurity" -}}
automountServiceAccountToken: {{ .token }}
securityContext:
  {{- toYaml .root.Values.podSecurityContext | nindent 2 }}
{{- with .root.Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "omni.tmpVolume" -}}
- name: tmp
  emptyDir:
    medium: Memory
    sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- end -}}

{{/* Validation ------------------------------------------------------------------------------------------ */}}

{{- define "omni.validate" -}}
{{- $ports := dict -}}
{{- range $name, $svc := .Values.services -}}
{{- $key := toString $svc.port -}}
{{- if hasKey $ports $key -}}
{{- fail (printf "services.%s.port %s is already used by services.%s: every service needs its own port" $name $key (get $ports $key)) -}}
{{- end -}}
{{- $_ := set $ports $key $name -}}
{{- end -}}
{{- $sharedDb := or .Values.postgresql.url.value .Values.postgresql.url.existingSecret -}}
{{- range $name, $svc := .Values.services -}}
{{- if and $svc.enabled (not $sharedDb) (not (hasKey $.Values.postgresql.perService $name)) -}}
{{- fail (printf "services.%s has no database: set postgresql.url (shared) or postgresql.perService.%s" $name $name) -}}
{{- end -}}
{{- end -}}
{{- if and .Values.kafka.sasl.enabled (not .Values.settings.existingSecret) (not (and .Values.kafka.sasl.username .Values.kafka.sasl.password)) -}}
{{- fail "kafka.sasl.enabled needs kafka.sasl.username and kafka.sasl.password (or the whole settings file in settings.existingSecret)" -}}
{{- end -}}
{{- end -}}

{{- define "omni.resourceAttributes" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k (toString $v)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The settings file. TOML basic strings accept JSON string escapes, so toJson quotes every string. */}}
{{- define "omni.kafkaProperties" -}}
{{- $props := dict -}}
{{- $k := .Values.kafka -}}
{{- if and $k.tls.enabled $k.sasl.enabled -}}
{{- $_ := set $props "security.protocol" "SASL_SSL" -}}
{{- else if $k.tls.enabled -}}
{{- $_ := set $props "security.protocol" "SSL" -}}
{{- else if $k.sasl.enabled -}}
{{- $_ := set $props "security.protocol" "SASL_PLAINTEXT" -}}
{{- end -}}
{{- if and $k.tls.enabled $k.tls.caSecret.name -}}
{{- $_ := set $props "ssl.ca.location" (printf "/etc/omni/kafka-ca/%s" $k.tls.caSecret.key) -}}
{{- end -}}
{{- if $k.sasl.enabled -}}
{{- $_ := set $props "sasl.mechanism" $k.sasl.mechanism -}}
{{- $_ := set $props "sasl.username" $k.sasl.username -}}
{{- $_ := set $props "sasl.password" $k.sasl.password -}}
{{- end -}}
{{- range $key, $value := $k.properties -}}
{{- $_ := set $props $key (toString $value) -}}
{{- end -}}
{{- toYaml $props -}}
{{- end -}}

{{- define "omni.settingsToml" -}}
# Rendered by the omni Helm chart. Non-secret settings come from OMNI__ variables (ConfigMap), secret single
# values from Secrets; this file holds the Kafka client properties and the API keys.
[kafka.properties]
{{- range $key, $value := (fromYaml (include "omni.kafkaProperties" .)) }}
{{ toJson $key }} = {{ toJson (toString $value) }}
{{- end }}
{{- range .Values.auth.apiKeys }}

[[auth.api_keys]]
{{- if .keySha256 }}
key_sha256 = {{ toJson .keySha256 }}
{{- else }}
key = {{ toJson .key }}
{{- end }}
name = {{ toJson .name }}
roles = {{ toJson .roles }}
{{- with .partnerId }}
partner_id = {{ toJson . }}
{{- end }}
{{- with .locations }}
locations = {{ toJson . }}
{{- end }}
{{- with .expiresAt }}
expires_at = {{ toJson . }}
{{- end }}
{{- if .revoked }}
revoked = true
{{- end }}
{{- end }}
{{- with .Values.settings.extraToml }}

{{ . }}
{{- end }}
{{- end -}}

{{/* One egress rule from {to: [peers], ports: [...]}; no peers: any destination on those ports. */}}
{{- define "omni.egressRule" -}}
- ports:
    {{- toYaml .ports | nindent 4 }}
  {{- with .to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
