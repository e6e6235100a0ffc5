-- Cross-references: @fig-x, @tbl-x and @sec-x become numbered links.
--
-- Figures (a Figure or a Div with an id fig-...) and tables (a Div or Table with an id
-- tbl-...) are numbered 1, 2, ... in document order. In HTML the caption gets the localized
-- prefix ("图 1：" / "Figure 1:"), a table's caption goes above it, and a reference prints
-- "图 1" / "Table 1" as a link. A @sec- reference prints the heading's number (from the
-- section filter) after the localized prefix. In Typst, figures and tables become Typst
-- figures with labels and references stay Typst references (@fig-x), numbered by Typst.
-- Words come from metadata `bps-labels` (Quarto's language keys).

local labels = {}
local lang = "en"
local numbers = {}   -- id -> { kind = "fig"|"tbl"|"sec", n = 3, label = "一、" }

local function L(key, default)
  local v = labels[key]
  if v == nil then return default end
  return v
end

local function is_html() return FORMAT:match("html") ~= nil end
local function is_typst() return FORMAT:match("typst") ~= nil end

local function kind_of(id)
  return id:match("^(fig)%-") or id:match("^(tbl)%-") or id:match("^(sec)%-")
end

local function ref_text(id)
  local entry = numbers[id]
  if not entry then return nil end
  if entry.kind == "fig" then
    return L("crossref-fig-title", "Figure") .. " " .. entry.n
  elseif entry.kind == "tbl" then
    return L("crossref-tbl-title", "Table") .. " " .. entry.n
  end
  local num = entry.label or ""
  -- Without section numbers a reference names the heading itself.
  if num == "" then return entry.title or "" end
  num = num:gsub("、$", ""):gsub("%.$", "")
  -- A per-level format (e.g. zh level 1: 第{num}部分) wins over prefix + number.
  local fmt = labels["crossref-sec-format-" .. tostring(entry.level or 0)]
  if fmt and fmt ~= "" then return (fmt:gsub("{num}", num)) end
  local prefix = L("crossref-sec-prefix", "Section")
  if prefix == "" then return num end
  return prefix .. " " .. num
end

local function caption_prefix(kind, n)
  local title = (kind == "fig") and L("crossref-fig-title", "Figure") or L("crossref-tbl-title", "Table")
  local delim = L("crossref-title-delim", ":")
  local inl = pandoc.Inlines({ pandoc.Span(pandoc.Inlines(title .. " " .. n .. delim),
    pandoc.Attr("", { "caption-label" })) })
  if not delim:match("：$") then inl:insert(pandoc.Space()) end
  return inl
end

-- Pass 1: number everything, in document order.
local function collect(doc)
  local counts = { fig = 0, tbl = 0 }
  local function take(id, kind)
    if id == "" or numbers[id] then return end
    counts[kind] = counts[kind] + 1
    numbers[id] = { kind = kind, n = counts[kind] }
  end
  doc:walk({
    traverse = "topdown",
    Figure = function(f)
      local k = kind_of(f.identifier)
      if k == "fig" or k == "tbl" then take(f.identifier, k) end
    end,
    Div = function(d)
      local k = kind_of(d.identifier)
      if k == "fig" or k == "tbl" then take(d.identifier, k) end
    end,
    Table = function(t)
      if kind_of(t.identifier or "") == "tbl" then take(t.identifier, "tbl") end
    end,
    Header = function(h)
      if kind_of(h.identifier) == "sec" then
        numbers[h.identifier] = { kind = "sec", label = h.attributes["number"], level = h.level,
                                  title = pandoc.utils.stringify(h.content) }
      end
    end,
  })
  return nil
end

-- A float Div is its content followed by one caption paragraph (Quarto's convention).
local function split_caption(div)
  local content = pandoc.Blocks(div.content)
  local last = content[#content]
  if #content >= 2 and last and (last.t == "Para" or last.t == "Plain") then
    content:remove(#content)
    return content, last.content
  end
  return content, pandoc.Inlines({})
end

local function float_div(div)
  local id = div.identifier
  local kind = kind_of(id)
  if kind ~= "fig" and kind ~= "tbl" then return nil end
  local entry = numbers[id]
  local body, caption = split_caption(div)
  if is_typst() then
    local fig = pandoc.Figure(body, { pandoc.Plain(caption) }, pandoc.Attr(id, {}, {}))
    return fig
  end
  local cap = caption_prefix(kind, entry.n)
  cap:extend(caption)
  if is_html() then
    local capdiv = pandoc.Div({ pandoc.Plain(cap) },
      pandoc.Attr("", { "float-caption", kind == "tbl" and "table-caption" or "figure-caption" }))
    local blocks = pandoc.Blocks({})
    if kind == "tbl" then blocks:insert(capdiv); blocks:extend(body)
    else blocks:extend(body); blocks:insert(capdiv) end
    return pandoc.Div(blocks, pandoc.Attr(id, { "float", kind == "tbl" and "float-table" or "float-figure" }))
  end
  return pandoc.Figure(body, { pandoc.Plain(cap) }, pandoc.Attr(id, {}, {}))
end

local function figure(f)
  local kind = kind_of(f.identifier)
  if kind ~= "fig" and kind ~= "tbl" then return nil end
  if is_typst() then return nil end
  local entry = numbers[f.identifier]
  local cap = caption_prefix(kind, entry.n)
  local long = f.caption.long
  if #long > 0 and (long[1].t == "Plain" or long[1].t == "Para") then
    cap:extend(long[1].content)
    long[1] = pandoc.Plain(cap)
  else
    long:insert(pandoc.Plain(cap))
  end
  f.caption.long = long
  -- The image keeps its alt text from fig-alt (Quarto's attribute).
  f.content = f.content:walk({
    Image = function(img)
      local alt = img.attributes["fig-alt"]
      if alt then
        img.attributes["fig-alt"] = nil
        img.attributes["alt"] = alt
      end
      return img
    end,
  })
  f.classes:insert("float-figure")
  return f
end

-- UTF-8 of CJK punctuation (U+3000-U+3FFF), ideographs (U+4000-U+9FFF) and full-width
-- forms (U+FF00-U+FFFF): lead byte E3-E9, or EF BC-BF.
local function is_cjk_char(c)
  return c:match("^[\227-\233][\128-\191][\128-\191]$") ~= nil
      or c:match("^\239[\188-\191][\128-\191]$") ~= nil
end
local function ends_cjk(s) return s ~= nil and #s >= 3 and is_cjk_char(s:sub(-3)) end
local function starts_cjk(s) return s ~= nil and #s >= 3 and is_cjk_char(s:sub(1, 3)) end

local function cite(c)
  local parts = {}
  for _, citation in ipairs(c.citations) do
    local k = kind_of(citation.id)
    if not k then return nil end  -- a real citation: not ours
    parts[#parts + 1] = citation.id
  end
  if is_typst() then
    local out = pandoc.Inlines({})
    for i, id in ipairs(parts) do
      if i > 1 then out:insert(pandoc.Str(", ")) end
      out:insert(pandoc.RawInline("typst", "@" .. id))
    end
    return out
  end
  local out = pandoc.Inlines({})
  local sep = lang:match("^zh") and "、" or ", "
  for i, id in ipairs(parts) do
    if i > 1 then out:insert(pandoc.Str(sep)) end
    local text = ref_text(id)
    if text then
      out:insert(pandoc.Link(pandoc.Inlines(text), "#" .. id, "", pandoc.Attr("", { "xref" })))
    else
      io.stderr:write("WARNING: unresolved cross-reference @" .. id .. "\n")
      out:insert(pandoc.Strong(pandoc.Inlines("?@" .. id)))
    end
  end
  return out
end

-- In Chinese, drop the space typed around a reference ("见 @fig-x 。" -> "见图 1。").
local function tighten(inlines)
  if not lang:match("^zh") then return nil end
  local out = pandoc.Inlines({})
  local n = #inlines
  for i = 1, n do
    local el = inlines[i]
    local drop = false
    if el.t == "Space" then
      local prev, nxt = inlines[i - 1], inlines[i + 1]
      if nxt and nxt.t == "Cite" and prev and prev.t == "Str" and ends_cjk(prev.text) then drop = true end
      if prev and prev.t == "Cite" and nxt and nxt.t == "Str" and starts_cjk(nxt.text) then drop = true end
    end
    if not drop then out:insert(el) end
  end
  return out
end

local function Meta(meta)
  local map = meta["bps-labels"]
  if map then
    for k, v in pairs(map) do labels[k] = pandoc.utils.stringify(v) end
  end
  if meta.lang then lang = pandoc.utils.stringify(meta.lang) end
end

return {
  { Meta = Meta },
  { Pandoc = collect },
  { Inlines = tighten },
  { Div = float_div, Figure = figure },
  { Cite = cite },
}
