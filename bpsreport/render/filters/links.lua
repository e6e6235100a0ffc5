-- Links between pages, as Quarto resolves them in a website.
--   x.qmd, ../y.qmd#part   a source page (relative to the page's source folder)
--   /reports/.../x.qmd     a source page (from the project root)
--   /downloads/...         any other root-relative path: that path under the site folder
-- Metadata set by bpsreport/render/html.py: `bps-pages` (source path from the project root
-- -> href from this page), `bps-page-dir` (the page's source folder), `bps-site-root`
-- (prefix from this page to the site folder). A link to a .qmd that is not rendered stops
-- the render with an error naming it.

local pages = {}
local page_dir = ""
local site_root = ""

local function normalize(path)
  local parts = {}
  for part in path:gmatch("[^/]+") do
    if part == ".." then
      if #parts > 0 and parts[#parts] ~= ".." then table.remove(parts) else parts[#parts + 1] = part end
    elseif part ~= "." then
      parts[#parts + 1] = part
    end
  end
  return table.concat(parts, "/")
end

local function is_external(target)
  return target:match("^%a[%w+.-]*:") ~= nil or target:sub(1, 1) == "#" or target == ""
end

local function resolve(target)
  if is_external(target) then return nil end
  local path, anchor = target:match("^([^#]*)(#?.*)$")
  if path:match("%.qmd$") then
    local key
    if path:sub(1, 1) == "/" then key = normalize(path:sub(2))
    else key = normalize((page_dir ~= "" and page_dir ~= "." and (page_dir .. "/") or "") .. path) end
    local href = pages[key]
    if not href then
      error("link to " .. path .. " (" .. key .. "): that page is not rendered by this profile")
    end
    return href .. anchor
  end
  if path:sub(1, 1) == "/" then
    return site_root .. path:sub(2) .. anchor
  end
  return nil
end

local function Meta(meta)
  if meta["bps-pages"] then
    for k, v in pairs(meta["bps-pages"]) do pages[k] = pandoc.utils.stringify(v) end
  end
  if meta["bps-page-dir"] then page_dir = pandoc.utils.stringify(meta["bps-page-dir"]) end
  if meta["bps-site-root"] then site_root = pandoc.utils.stringify(meta["bps-site-root"]) end
  -- Our keys are for the filters only; keep them out of the page.
  meta["bps-pages"] = nil
  meta["bps-page-dir"] = nil
  meta["bps-site-root"] = nil
  meta["bps-output-root"] = nil
  meta["bps-labels"] = nil
  return meta
end

local function Link(link)
  local t = resolve(link.target)
  if t then link.target = t; return link end
end

local function Image(img)
  local t = resolve(img.src)
  if t then img.src = t; return img end
end

return { { Meta = Meta }, { Link = Link, Image = Image } }
