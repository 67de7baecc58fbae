// A line chart (uPlot) of decimal strings over UTC times, with a text fallback for screen readers.
import { h } from "preact";
import { useEffect, useRef } from "preact/hooks";
import htm from "htm";
import uPlot from "uplot";

const html = htm.bind(h);

export function Chart({ title, x, series }) {
  const box = useRef(null);
  useEffect(() => {
    if (!box.current || !x.length) return undefined;
    const width = Math.max(320, Math.min(box.current.clientWidth || 900, 1100));
    const plot = new uPlot(
      {
        title, width, height: 280,
        series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2 }))],
        axes: [{}, { values: (u, ticks) => ticks.map((t) => `¥${t.toFixed(2)}`), size: 80 }],
      },
      // plotting only: the chart draws the decimal strings as numbers; every figure shown as text stays exact
      [x, ...series.map((s) => s.values.map((v) => (v === null ? null : Number(v))))],
      box.current,
    );
    return () => plot.destroy();
  }, [title, JSON.stringify(x), JSON.stringify(series)]);
  const last = series.map((s) => `${s.label}: ${s.values.length ? s.values[s.values.length - 1] : "—"}`).join("; ");
  return html`<div class="chart" ref=${box} role="img" aria-label=${`${title}. ${x.length} 个点 · points; 最新 · latest: ${last}`}></div>`;
}
