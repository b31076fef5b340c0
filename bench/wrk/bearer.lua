-- Token rotation for `make bench` (appended to summary.lua): every request carries
-- `Authorization: Bearer <token>`, the tokens read from one file per wrk thread
-- (`<prefix>.<thread index>`, one token per line) and sent in turn. A pool file is rotated
-- through again and again (warm tokens); a file of fresh tokens is sized so that it never
-- wraps (every request a new token) and `wrapped` in the summary proves it did not.
--
--   wrk -t2 -c32 -d5s -s summary+bearer.lua http://127.0.0.1:PORT/api/v1/zones -- <prefix>

function init(args)
  tokens = {}
  for line in io.lines(args[1] .. "." .. id) do
    if #line > 0 then
      tokens[#tokens + 1] = "Bearer " .. line
    end
  end
  if #tokens == 0 then
    error("no tokens in " .. args[1] .. "." .. id)
  end
  next_token = 0
  wrapped = 0
end

function request()
  next_token = next_token + 1
  if next_token > #tokens then
    next_token = 1
    wrapped = wrapped + 1
  end
  return wrk.format(nil, nil, { ["Authorization"] = tokens[next_token] })
end
