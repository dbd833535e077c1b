-- Argo CD health check for iam.ssc-operator.dev/ServiceSpecificCredential.
-- Install it as argocd-cm key
--   resource.customizations.health.iam.ssc-operator.dev_ServiceSpecificCredential
-- (docs/argocd.md). Tested by tests/deploy/test_argocd_health.py.
--
-- Healthy:     Ready=True, and both status.observedGeneration and the Ready
--              condition's observedGeneration equal metadata.generation.
-- Degraded:    Ready=False for the current generation with a terminal reason
--              (fixing it needs a person: the spec, IAM or the namespace).
-- Progressing: everything else: no status yet, a generation the operator has
--              not seen, transient reasons (Throttled, IamUnavailable,
--              Rotating, ...), deletion in progress.
local hs = {}

local terminal = {
  UserNotFound = true,
  ServiceNotSupported = true,
  NotPermitted = true,
  SecretConflict = true,
  InvalidSpec = true,
  Expired = true,
  LimitExceeded = true,
  -- IAM refused the operator's own identity (its IAM policy) or the request:
  -- both need a person too.
  AccessDenied = true,
  IamRejected = true,
  -- Which credential an interrupted create made cannot be proven: a person decides.
  AdoptionAmbiguous = true,
}

local function describe(cond)
  local text = cond.reason or "Unknown"
  if cond.message ~= nil and cond.message ~= "" then
    text = text .. ": " .. cond.message
  end
  return text
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: waiting for the operator to remove the IAM credential (finalizer iam.ssc-operator.dev/cleanup)"
  return hs
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to reconcile the resource"
  return hs
end

if generation ~= nil and obj.status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = nil
for _, cond in ipairs(obj.status.conditions) do
  if cond.type == "Ready" then
    ready = cond
  end
end

if ready == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Ready condition"
  return hs
end

if generation ~= nil and ready.observedGeneration ~= nil and ready.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end

if ready.status == "False" and terminal[ready.reason] then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready)
return hs
