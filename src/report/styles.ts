/** The page's colours, CSS and its one inline script (data: long lines are expected here). */
import type { DisplayOutcome } from "./classify.js";

export const COLORS: Record<DisplayOutcome, string> = {
  ok: "#2e9d5b",
  retried: "#e8a317",
  speculative: "#3d7dd8",
  failed: "#d93f3f",
  cancelled: "#8a8f98",
};
export const QUEUED = "#c9ced6";
export const COLD = "#6b2fbf";

export const CSS = `
:root{--fg:#1d2330;--mut:#5d6675;--line:#e3e6eb;--bg:#fff}
*{box-sizing:border-box}
body{margin:0;padding:20px 28px;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;color:var(--fg);background:var(--bg)}
h1{font-size:20px;margin:0 0 2px}h2{font-size:15px;margin:18px 0 8px}
.sub{color:var(--mut);margin:2px 0 8px;font-size:13px}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f3f4f6;padding:1px 4px;border-radius:3px;word-break:break-all}
.cols{display:flex;flex-wrap:wrap;gap:12px 40px}.cols>div{min-width:320px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
table.kv th,table.grid th{text-align:left;font-weight:500;color:var(--mut);padding:3px 16px 3px 0}
table.kv td{padding:3px 0;text-align:right;font-weight:600}
table.grid td{padding:3px 10px 3px 0}
tr+tr>*{border-top:1px solid var(--line)}
.bad{color:#d93f3f}
.legend{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0 8px;font-size:12px;color:var(--mut)}
.legend.small{margin-top:2px}
.li{display:inline-flex;align-items:center;gap:6px}
.sw{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:6px;vertical-align:-1px}
.li .sw{margin-right:0}
.sw.line{height:0;border-top:2px solid;border-radius:0;width:16px}
.tl{overflow:auto;max-width:100%;border:1px solid var(--line);border-radius:4px}
svg{display:block;max-width:none}
svg text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;fill:var(--mut)}
.grid{stroke:var(--line);stroke-width:1}
.b{fill-opacity:.35}.b.solid{fill-opacity:.85}
.b.ok,.run.ok{fill:${COLORS.ok}}.b.retried,.run.retried{fill:${COLORS.retried}}.b.speculative,.run.speculative{fill:${COLORS.speculative}}
.b.failed,.run.failed{fill:${COLORS.failed}}.b.cancelled,.run.cancelled{fill:${COLORS.cancelled}}
.overlay{pointer-events:none}.queued{fill:${QUEUED}}.cold{fill:${COLD}}
.conc{fill:none;stroke-width:1.5}.conc.inflight{stroke:#3d7dd8}.conc.running{stroke:#2e9d5b}
.hist{fill:#3d7dd8;fill-opacity:.8}.pmark{stroke-width:1.5;stroke-dasharray:4 3}
.b:hover{stroke:#000;stroke-width:1}
#tip{position:fixed;pointer-events:none;background:#1d2330;color:#fff;font-size:12px;padding:6px 8px;border-radius:4px;white-space:pre;z-index:9}
footer{margin-top:24px;color:var(--mut);font-size:12px}
ul.notes{margin:4px 0;padding-left:18px;color:var(--mut)}
`;

/** One listener for the whole timeline: details of the bar under the pointer. */
export const SCRIPT = `(function(){var t=document.getElementById("tip"),s=document.querySelector('[data-testid="timeline"]');if(!s||!t)return;
function ms(v){return v===""?"-":(+v<1000?v+" ms":(v/1000).toFixed(2)+" s")}
s.addEventListener("mousemove",function(e){var d=e.target&&e.target.dataset;if(!d||!d.outcome){t.hidden=true;return}
t.textContent=d.count?("chunks "+d.index+"\\n"+d.count+" ok attempts"):("chunk "+d.index+" · attempt "+d.attempt+(d.spec?" (speculative)":"")+"\\n"+d.outcome+(d.kind!==d.outcome?" ("+d.kind+")":"")+(d.cold?" · cold start":"")+"\\nqueued "+ms(d.q)+" · ran "+ms(d.r)+" · total "+ms(d.t)+(d.mem?"\\npeak memory "+d.mem:""));
t.hidden=false;t.style.left=Math.min(e.clientX+12,innerWidth-240)+"px";t.style.top=(e.clientY+12)+"px"});
s.addEventListener("mouseleave",function(){t.hidden=true})})();`;
