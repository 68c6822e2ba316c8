-- SPDX-License-Identifier: MIT
-- wrk's totals on one line, for bench/http/run to read (wrk -s THIS).
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "wrk_report requests=%d bytes=%d us=%d connect=%d read=%d write=%d status=%d timeout=%d\n",
      summary.requests, summary.bytes, summary.duration,
      e.connect, e.read, e.write, e.status, e.timeout))
end
