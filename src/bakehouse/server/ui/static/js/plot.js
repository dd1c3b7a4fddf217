// plotly.js is 4.8 MB: load it only when a chart is on screen (served gzip'd from the plotly package).
let loading = null;

export function loadPlotly() {
  if (window.Plotly) return Promise.resolve(window.Plotly);
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = new URL('../vendor/plotly.min.js', import.meta.url).href;
      s.onload = () => resolve(window.Plotly);
      s.onerror = () => { loading = null; reject(new Error('Could not load the charting library (plotly).')); };
      document.head.appendChild(s);
    });
  }
  return loading;
}

export const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

export const LAYOUT = { margin: { l: 60, r: 20, t: 36, b: 48 }, font: { family: 'system-ui, sans-serif', size: 12 }, paper_bgcolor: 'rgba(0,0,0,0)', plot_bgcolor: 'rgba(0,0,0,0)', hovermode: 'closest' };
export const CONFIG = { displaylogo: false, responsive: true };
