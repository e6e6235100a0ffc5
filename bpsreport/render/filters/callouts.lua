-- Callouts: ::: {.callout-note} (note, tip, important, warning, caution) become a titled box.
-- The title is the callout's first heading when it starts with one (## Title), else the
-- localized default from metadata `bps-labels` (callout-<type>-title). Runs before the
-- section-numbering filter, so a callout's own heading is never numbered.

local TYPES = { note = true, tip = true, important = true, warning = true, caution = true }

local labels = {}

local function callout_type(div)
  for _, cls in ipairs(div.classes) do
    local t = cls:match("^callout%-(%w+)$")
    if t and TYPES[t] then return t end
  end
  return nil
end

local function title_for(div, kind)
  local first = div.content[1]
  if first and first.t == "Header" then
    local title = first.content
    div.content:remove(1)
    return title
  end
  local attr_title = div.attributes["title"]
  if attr_title and attr_title ~= "" then
    return pandoc.Inlines(pandoc.Str(attr_title))
  end
  return pandoc.Inlines(labels["callout-" .. kind .. "-title"] or kind)
end

local function Div(div)
  local kind = callout_type(div)
  if not kind then return nil end
  local title = title_for(div, kind)
  div.attributes["title"] = nil
  local role = (kind == "warning" or kind == "caution") and "alert" or "note"
  if FORMAT:match("html") then
    local classes = { "callout", "callout-" .. kind }
    local title_div = pandoc.Div({ pandoc.Plain(title) }, pandoc.Attr("", { "callout-title" }))
    local body_div = pandoc.Div(div.content, pandoc.Attr("", { "callout-body" }))
    return pandoc.Div({ title_div, body_div },
      pandoc.Attr(div.identifier, classes, { role = role }))
  end
  -- Other formats: a bold title line and the body, inside a div the writer may style.
  local blocks = pandoc.Blocks({ pandoc.Para({ pandoc.Strong(title) }) })
  blocks:extend(div.content)
  return pandoc.Div(blocks, pandoc.Attr(div.identifier, { "callout", "callout-" .. kind }))
end

local function Meta(meta)
  local map = meta["bps-labels"]
  if map then
    for k, v in pairs(map) do labels[k] = pandoc.utils.stringify(v) end
  end
end

return { { Meta = Meta }, { Div = Div } }
