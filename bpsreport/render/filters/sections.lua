-- Section numbers when metadata `number-sections` is true.
--   zh (GB/T 9704-2012): level 1 一、  level 2 （一）  level 3 1.  level 4 （1）
--   other languages:     1  1.1  1.1.1 ...  (leading zero levels dropped, so a page whose
--                        first heading is ## still starts at 1)
-- Headings with {.unnumbered} (or {-}) are skipped and do not advance the count.
-- The number is put before the heading text (a span .header-section-number) and stored in
-- the heading's `number` attribute, which the cross-reference filter reads for @sec- refs.
-- `number-depth` limits the levels numbered; `number-offset` is not supported.

local enabled = false
local lang = "en"
local depth = 6

local DIGITS = { "一", "二", "三", "四", "五", "六", "七", "八", "九" }

local function chinese_numeral(n)
  -- 1..99, the way official documents write them: 十, 十一, 二十, 二十一 ...
  if n < 10 then return DIGITS[n] end
  local tens, ones = n // 10, n % 10
  local s = (tens == 1) and "十" or (DIGITS[tens] .. "十")
  if ones > 0 then s = s .. DIGITS[ones] end
  return s
end

local function zh_label(level, n)
  if level == 1 then return chinese_numeral(n) .. "、" end
  if level == 2 then return "（" .. chinese_numeral(n) .. "）" end
  if level == 3 then return tostring(n) .. "." end
  if level == 4 then return "（" .. tostring(n) .. "）" end
  return nil
end

local function Meta(meta)
  local ns = meta["number-sections"]
  enabled = ns == true or (ns ~= nil and pandoc.utils.stringify(ns) == "true")
  if meta.lang then lang = pandoc.utils.stringify(meta.lang) end
  if meta["number-depth"] then depth = tonumber(pandoc.utils.stringify(meta["number-depth"])) or depth end
end

local function is_unnumbered(h)
  return h.classes:includes("unnumbered")
end

local function number_blocks(blocks)
  if not enabled then return blocks end
  local counters = { 0, 0, 0, 0, 0, 0 }
  local zh = lang:match("^zh") ~= nil
  local function visit(bs)
    for _, b in ipairs(bs) do
      if b.t == "Header" then
        if not is_unnumbered(b) and b.level <= depth then
          counters[b.level] = counters[b.level] + 1
          for i = b.level + 1, 6 do counters[i] = 0 end
          local label
          if zh then
            label = zh_label(b.level, counters[b.level])
          else
            local parts = {}
            local started = false
            for i = 1, b.level do
              if counters[i] ~= 0 then started = true end
              if started then parts[#parts + 1] = tostring(counters[i]) end
            end
            label = table.concat(parts, ".")
          end
          if label then
            b.attributes["number"] = label
            local content = pandoc.Inlines({ pandoc.Span(pandoc.Inlines(label),
              pandoc.Attr("", { "header-section-number" })) })
            if not zh or label:match("%.$") then content:insert(pandoc.Space()) end  -- "1. 标题" as in the model document
            content:extend(b.content)
            b.content = content
          end
        end
      elseif b.t == "Div" and not b.classes:includes("callout") then
        visit(b.content)
      end
    end
  end
  visit(blocks)
  return blocks
end

local function Pandoc(doc)
  doc.blocks = number_blocks(doc.blocks)
  return doc
end

return { { Meta = Meta }, { Pandoc = Pandoc } }
