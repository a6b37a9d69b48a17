-- Argo CD health check for spofless.dev/ResilientSite (docs/operations/gitops.md says how to install it).
-- Argo CD runs it with the site as `obj` (Lua 5.1, gopher-lua) and reads the table it returns.
--
-- The status follows kstatus, and the phase says the rest:
--   no status yet, or one written for an older generation    Progressing
--   Stalled=True (an error retrying will not fix)             Degraded
--   Reconciling=True (spofless is moving towards the spec)    Progressing
--   RolloutHalted=True (the spec's template halted in a zone) Degraded
--   phase Invalid, AtRisk or Degraded                         Degraded
--   phase Pending, Ready=False, or a rollout under way        Progressing
--   phase Redundant, or Ready=True                            Healthy
-- AtRisk is Degraded although the site serves: it stands on a single point of failure, one failure
-- from going down, and a GitOps tool that showed it Healthy would hide the one thing spofless is for.
local function condition(status, kind)
  if status.conditions == nil then
    return nil
  end
  for _, c in ipairs(status.conditions) do
    if c.type == kind then
      return c
    end
  end
  return nil
end

-- A condition counts only if True and written for the spec Argo CD applied (its observedGeneration).
local function holds(status, kind, generation)
  local c = condition(status, kind)
  if c == nil or c.status ~= "True" then
    return nil
  end
  if c.observedGeneration ~= nil and generation ~= nil and c.observedGeneration < generation then
    return nil
  end
  return c
end

local function said(text, otherwise)
  if text ~= nil and text ~= "" then
    return text
  end
  return otherwise
end

local function verdict(health, message)
  return {status = health, message = message}
end

local status = obj.status
local generation = obj.metadata and obj.metadata.generation
if status == nil then
  return verdict("Progressing", "Waiting for spofless to report the site")
end
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  return verdict("Progressing", "Waiting for spofless to observe generation " .. tostring(generation))
end

-- The conditions that decide by themselves, in order, each with its own message.
local deciding = {{"Stalled", "Degraded"}, {"Reconciling", "Progressing"}, {"RolloutHalted", "Degraded"}}
for _, rule in ipairs(deciding) do
  local c = holds(status, rule[1], generation)
  if c ~= nil then
    return verdict(rule[2], said(c.message, said(status.message, rule[1])))
  end
end

local phase = status.phase
if phase == "Invalid" or phase == "AtRisk" or phase == "Degraded" then
  return verdict("Degraded", phase .. ": " .. said(status.message, "see the site's status"))
end
local rollout = status.rollout
if rollout ~= nil and (rollout.phase == "Progressing" or rollout.phase == "Baking" or rollout.phase == "Waiting") then
  return verdict("Progressing", said(rollout.message, "Rolling the template out zone by zone"))
end
local ready = condition(status, "Ready")
if phase == "Pending" or (ready ~= nil and ready.status == "False") then
  return verdict("Progressing", said(status.message, "Waiting for the site to be ready"))
end
if phase == "Redundant" or (ready ~= nil and ready.status == "True") then
  return verdict("Healthy", said(status.message, "Redundant"))
end
return verdict("Progressing", said(status.message, "Waiting for spofless to report the site"))
