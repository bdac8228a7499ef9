/* Console charts (Chart.js 4, vendored). Data comes from <script type="application/json">. */
(function () {
  "use strict";
  if (typeof Chart === "undefined") return;

  var css = getComputedStyle(document.documentElement);
  var accent = css.getPropertyValue("--accent").trim() || "#0f766e";
  var text3 = css.getPropertyValue("--text-3").trim() || "#7b8494";
  Chart.defaults.font.family = css.getPropertyValue("--font").trim() || "system-ui, sans-serif";
  Chart.defaults.color = text3;

  function readJSON(id) {
    var node = document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  var revenue = readJSON("revenue-data");
  var canvas = document.getElementById("revenue-chart");
  if (revenue && canvas) {
    var money = new Intl.NumberFormat(revenue.locale, {
      minimumFractionDigits: 2,
      maximumFractionDigits: 2,
    });
    var count = new Intl.NumberFormat(revenue.locale);
    new Chart(canvas, {
      data: {
        labels: revenue.labels,
        datasets: [
          {
            type: "bar",
            label: revenue.revenue_label,
            data: revenue.revenue,
            backgroundColor: "rgba(20, 184, 166, 0.55)",
            hoverBackgroundColor: accent,
            borderRadius: 4,
            yAxisID: "y",
            order: 2,
          },
          {
            type: "line",
            label: revenue.orders_label,
            data: revenue.orders,
            borderColor: "#6366f1",
            backgroundColor: "#6366f1",
            pointRadius: 2,
            tension: 0.3,
            yAxisID: "y1",
            order: 1,
          },
        ],
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: {
            callbacks: {
              label: function (ctx) {
                var f = ctx.dataset.yAxisID === "y" ? money : count;
                return " " + ctx.dataset.label + ": " + f.format(ctx.parsed.y);
              },
            },
          },
        },
        scales: {
          x: { grid: { display: false } },
          y: {
            beginAtZero: true,
            ticks: { callback: function (v) { return count.format(v); } },
            grid: { color: "rgba(0,0,0,0.05)" },
          },
          y1: {
            beginAtZero: true,
            position: "right",
            grid: { display: false },
            ticks: { precision: 0 },
          },
        },
      },
    });
  }

  // Analytics overview: Pareto curve and four bar charts from one JSON block.
  var analytics = readJSON("analytics-data");
  if (analytics) {
    var fmt = new Intl.NumberFormat(analytics.locale);
    var grid = { color: "rgba(0,0,0,0.05)" };
    var palette = ["#0f766e", "#d97706", "#94a3b8", "#5eead4", "#e2e8f0"];
    var stageColours = {
      prospect: "#cbd5e1",
      new: "#6366f1",
      active: "#14b8a6",
      at_risk: "#f59e0b",
      lapsed: "#ef4444",
      won_back: "#0ea5e9",
    };

    function bars(id, data, colours, opts) {
      var node = document.getElementById(id);
      if (!node || !data.counts.length) return;
      opts = opts || {};
      new Chart(node, {
        type: "bar",
        data: {
          labels: data.labels,
          datasets: [
            {
              label: data.label,
              data: data.counts,
              backgroundColor: colours,
              borderRadius: 4,
            },
          ],
        },
        options: {
          indexAxis: opts.horizontal ? "y" : "x",
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: {
            legend: { display: false },
            tooltip: {
              callbacks: {
                label: function (ctx) {
                  var v = opts.horizontal ? ctx.parsed.x : ctx.parsed.y;
                  return " " + data.label + ": " + fmt.format(v);
                },
              },
            },
          },
          scales: {
            x: opts.horizontal
              ? { beginAtZero: true, grid: grid, ticks: { precision: 0 } }
              : { grid: { display: false }, title: { display: !!data.x_label, text: data.x_label } },
            y: opts.horizontal
              ? { grid: { display: false } }
              : { beginAtZero: true, grid: grid, ticks: { precision: 0 } },
          },
        },
      });
    }

    var pareto = document.getElementById("pareto-chart");
    if (pareto && analytics.pareto.points.length) {
      new Chart(pareto, {
        type: "line",
        data: {
          datasets: [
            {
              label: analytics.pareto.line_label,
              data: analytics.pareto.points,
              borderColor: accent,
              backgroundColor: "rgba(20, 184, 166, 0.15)",
              fill: true,
              pointRadius: 0,
              pointHitRadius: 6,
              tension: 0.2,
            },
            {
              label: analytics.pareto.even_label,
              data: [{ x: 0, y: 0 }, { x: 100, y: 100 }],
              borderColor: "#94a3b8",
              borderDash: [5, 5],
              pointRadius: 0,
              fill: false,
            },
          ],
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          parsing: false,
          interaction: { mode: "nearest", intersect: false },
          plugins: {
            legend: { position: "bottom", labels: { boxWidth: 12 } },
            tooltip: {
              callbacks: {
                label: function (ctx) {
                  return " " + fmt.format(ctx.parsed.x) + "% → " + fmt.format(ctx.parsed.y) + "%";
                },
              },
            },
          },
          scales: {
            x: {
              type: "linear",
              min: 0,
              max: 100,
              grid: grid,
              title: { display: true, text: analytics.pareto.x_label },
            },
            y: {
              min: 0,
              max: 100,
              grid: grid,
              title: { display: true, text: analytics.pareto.y_label },
            },
          },
        },
      });
    }
    bars("tier-chart", analytics.tiers, palette, { horizontal: true });
    bars(
      "stage-chart",
      analytics.stages,
      analytics.stages.keys.map(function (k) { return stageColours[k] || accent; }),
      { horizontal: true }
    );
    bars("churn-chart", analytics.churn, "rgba(239, 68, 68, 0.6)");
    bars("clv-chart", analytics.clv, "rgba(20, 184, 166, 0.6)");
  }

  document.querySelectorAll("[data-download-chart]").forEach(function (button) {
    button.addEventListener("click", function () {
      var chart = Chart.getChart(button.getAttribute("data-download-chart"));
      if (!chart) return;
      var link = document.createElement("a");
      link.href = chart.toBase64Image("image/png", 1);
      link.download = button.getAttribute("data-filename") || "chart.png";
      link.click();
    });
  });
})();
