{{/* Chart name. */}}
{{- define "ssc-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the object name prefix. */}}
{{- define "ssc-operator.fullname" -}}
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

{{- define "ssc-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "ssc-operator.labels" -}}
helm.sh/chart: {{ include "ssc-operator.chart" . }}
app.kubernetes.io/name: {{ include "ssc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: ssc-operator
{{- end }}

{{/* Selector labels of the operator pods. */}}
{{- define "ssc-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: controller
{{- end }}

{{/* Selector labels of the emulator pod. */}}
{{- define "ssc-operator.emulator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ssc-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: iam-emulator
{{- end }}

{{- define "ssc-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ssc-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The container image: repository@digest or repository:tag. */}}
{{- define "ssc-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* imagePullSecrets of a pod spec (names or {name: ...} objects), or nothing. */}}
{{- define "ssc-operator.imagePullSecrets" -}}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
{{- range . }}
  - name: {{ if kindIs "string" . }}{{ . }}{{ else }}{{ .name }}{{ end }}
{{- end }}
{{- end }}
{{- end }}

{{/* "true" when the security contexts leave the UID/GID to OpenShift's SCC. */}}
{{- define "ssc-operator.openshift" -}}
{{- $mode := .Values.openshift.adaptSecurityContext }}
{{- if or (eq $mode "force") (and (eq $mode "auto") (.Capabilities.APIVersions.Has "security.openshift.io/v1")) }}true{{ end }}
{{- end }}

{{/* The pod securityContext; on OpenShift without runAsUser, runAsGroup, fsGroup. */}}
{{- define "ssc-operator.podSecurityContext" -}}
{{- $ctx := deepCopy .Values.podSecurityContext }}
{{- if include "ssc-operator.openshift" . }}
{{- $ctx = omit $ctx "runAsUser" "runAsGroup" "fsGroup" }}
{{- end }}
{{- toYaml $ctx }}
{{- end }}

{{/* The container securityContext; on OpenShift without runAsUser, runAsGroup. */}}
{{- define "ssc-operator.securityContext" -}}
{{- $ctx := deepCopy .Values.securityContext }}
{{- if include "ssc-operator.openshift" . }}
{{- $ctx = omit $ctx "runAsUser" "runAsGroup" }}
{{- end }}
{{- toYaml $ctx }}
{{- end }}

{{/* The job label of this release's metrics (the metrics Service's name, as a ServiceMonitor scrapes it). */}}
{{- define "ssc-operator.metricsJob" -}}
{{- default (printf "%s-metrics" (include "ssc-operator.fullname" .)) .Values.metrics.prometheusRule.job }}
{{- end }}

{{- define "ssc-operator.emulator.fullname" -}}
{{- printf "%s-iam-emulator" (include "ssc-operator.fullname" . | trunc 50 | trimSuffix "-") }}
{{- end }}

{{- define "ssc-operator.leaseName" -}}
{{- default (include "ssc-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{/* The IAM endpoint the operator uses: the explicit one, the emulator, or none (AWS). */}}
{{- define "ssc-operator.iamEndpointUrl" -}}
{{- if .Values.emulator.enabled }}
{{- printf "http://%s.%s.svc:%d" (include "ssc-operator.emulator.fullname" .) .Release.Namespace (int .Values.emulator.port) }}
{{- else }}
{{- .Values.iam.endpointUrl }}
{{- end }}
{{- end }}

{{/* The STS endpoint passed to the operator: the emulator's (it serves STS on the IAM listener), the explicit
one, or none (the SDK's regional endpoint, or --iam-endpoint-url when that is set: the operator's default). */}}
{{- define "ssc-operator.stsEndpointUrl" -}}
{{- if .Values.emulator.enabled }}
{{- include "ssc-operator.iamEndpointUrl" . }}
{{- else }}
{{- .Values.stsEndpointUrl }}
{{- end }}
{{- end }}

{{/* Combinations the schema cannot express; fail early with a clear message. */}}
{{- define "ssc-operator.validate" -}}
{{- if and (not .Values.leaderElection.enabled) (gt (int .Values.replicaCount) 1) }}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: two active controllers would fight over the same credentials" }}
{{- end }}
{{- if and .Values.emulator.enabled .Values.iam.endpointUrl }}
{{- fail "set either emulator.enabled or iam.endpointUrl, not both: with the emulator on, the operator is pointed at it" }}
{{- end }}
{{- if and .Values.emulator.enabled .Values.stsEndpointUrl }}
{{- fail "set either emulator.enabled or stsEndpointUrl, not both: with the emulator on, the operator is pointed at it for STS too" }}
{{- end }}
{{- $identities := dict }}
{{- range $i, $id := .Values.identities }}
{{- if hasKey $identities $id.name }}
{{- fail (printf "identities[%d]: the name %q is used twice (an IAMIdentity is cluster-scoped: one object per name)" $i $id.name) }}
{{- end }}
{{- $_ := set $identities $id.name true }}
{{- if and $id.sourceIdentityRef (eq $id.sourceIdentityRef.name $id.name) }}
{{- fail (printf "identities[%d]: %q names itself in sourceIdentityRef (a role chain needs another IAMIdentity)" $i $id.name) }}
{{- end }}
{{- end }}
{{- if and .Values.emulator.enabled .Values.aws.credentialsSecret.name }}
{{- fail "emulator.enabled gives the operator dummy AWS credentials; unset aws.credentialsSecret.name" }}
{{- end }}
{{- end }}

{{/*
RBAC rules of the operator. Least privilege: exactly the requests the operator makes.
- servicespecificcredentials get/list/watch, patch (finalizer); /status patch.
- secrets get/list/watch/create/update/delete. The operator lists and
  watches only Secrets labelled app.kubernetes.io/managed-by=ssc-operator, but
  RBAC cannot restrict by label: scope it with watchNamespaces.
- namespaces get: the iam.ssc-operator.dev/allowed-users tenancy annotation.
- events.k8s.io events create (each Event is new: no series are patched).
- credentialrecords get/list/create/update/delete ("ssc-operator.recordRules").
- iamidentities get/list/watch, iamidentities/status patch
  ("ssc-operator.identityRules").
With watchNamespaces, all of it but the records and the identities is a Role in
each of them: the API server authorizes GET /api/v1/namespaces/NAME with
namespace=NAME, so a RoleBinding in NAME covers reading that Namespace object
(limited further by resourceNames). The records and the identities are
cluster-scoped, which no Role can grant: they get a ClusterRole each
(RELEASE-records, RELEASE-identities) in that mode.
Call with a dict: "namespace" (empty for the ClusterRole).
*/}}
{{- define "ssc-operator.rules" -}}
- apiGroups: ["iam.ssc-operator.dev"]
  resources: ["servicespecificcredentials"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: ["iam.ssc-operator.dev"]
  resources: ["servicespecificcredentials/status"]
  verbs: ["patch"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "update", "delete"]
- apiGroups: [""]
  resources: ["namespaces"]
  {{- with .namespace }}
  resourceNames: [{{ . | quote }}]
  {{- end }}
  verbs: ["get"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create"]
{{- if not .namespace }}
{{ include "ssc-operator.recordRules" . }}
{{ include "ssc-operator.identityRules" . }}
{{- end }}
{{- end }}

{{/*
The operator's own record of every IAM credential it minted (kind CredentialRecord,
one per resource, named by its uid, plus the marker ssc-operator-epoch): which
credential a resource holds is what the record says, not its status (which anyone
who may write the resource's /status could change). Cluster-scoped, so that
nothing bound in a namespace reaches it (a tenant's wildcard Role, the built-in
admin); the aggregated view/edit roles leave it out. The operator reads one by
name, lists them (paged) for its sweep and writes them; no watch, no patch. It
makes these requests cluster-scoped with watchNamespaces too.
*/}}
{{- define "ssc-operator.recordRules" -}}
- apiGroups: ["iam.ssc-operator.dev"]
  resources: ["credentialrecords"]
  verbs: ["get", "list", "create", "update", "delete"]
{{- end }}

{{/*
The IAMIdentities (cluster-scoped, written by the platform team): the AWS roles the
operator assumes for the namespaces each allows. The operator watches them (a
resource names one through spec.identityRef or its namespace's
iam.ssc-operator.dev/identity annotation) and reports on each through its status
subresource only (Ready, the account, the assumed role; a merge patch, no get or
update of it): it never creates, changes or deletes one. Cluster-scoped, so a tenant's namespaced Role cannot create or
edit one to reach another account; the aggregated view/edit roles leave them out.
*/}}
{{- define "ssc-operator.identityRules" -}}
- apiGroups: ["iam.ssc-operator.dev"]
  resources: ["iamidentities"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["iam.ssc-operator.dev"]
  resources: ["iamidentities/status"]
  verbs: ["patch"]
{{- end }}

{{/*
With rolloutRestart.enabled: restart the workloads a resource names
(spec.rolloutRestart), as `kubectl rollout restart` does: a patch of the pod
template's kubectl.kubernetes.io/restartedAt annotation (a merge patch by
name; a missing workload answers 404). patch only: no get, list, watch,
create or delete, and nothing but these three kinds.
*/}}
{{- define "ssc-operator.rolloutRestartRules" -}}
- apiGroups: ["apps"]
  resources: ["deployments", "statefulsets", "daemonsets"]
  verbs: ["patch"]
{{- end }}
