package accuracy

import (
	"fmt"
	"html/template"
	"io"
	"math"
	"strings"
)

// WriteHTML writes the report as one self-contained HTML page: the figures
// per day as charts (inline SVG, no script, no CDN) and as a table, so it
// can be mailed, archived or opened offline.
func WriteHTML(w io.Writer, rep *Report) error {
	return reportTemplate.Execute(w, struct {
		*Report
		ErrorChart, RangeChart template.HTML
	}{rep, lineChart(rep.Days, 720, 220), rangeChart(rep.Days, 720, 180)})
}

// lineChart plots RMSE, MAE and bias per day.
func lineChart(days []Figures, w, h float64) template.HTML {
	series := []struct {
		name, color string
		value       func(Figures) (float64, bool)
	}{
		{"RMSE", "#c0392b", func(f Figures) (float64, bool) { return metric(f, func(f Figures) float64 { return f.Metrics.RMSE }) }},
		{"MAE", "#2c7fb8", func(f Figures) (float64, bool) { return metric(f, func(f Figures) float64 { return f.Metrics.MAE }) }},
		{"bias", "#7f8c8d", func(f Figures) (float64, bool) { return metric(f, func(f Figures) float64 { return *f.Bias }) }},
	}
	lo, hi := 0.0, 1.0
	for _, s := range series {
		for _, d := range days {
			if v, ok := s.value(d); ok {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	hi = math.Ceil(hi)
	lo = math.Floor(lo)
	var b strings.Builder
	chartFrame(&b, w, h, lo, hi, "minutes", days)
	const left, bottom, top = 48.0, 36.0, 12.0
	x := func(i int) float64 { return left + (w-left-12)*(float64(i)+0.5)/float64(max(len(days), 1)) }
	y := func(v float64) float64 { return top + (h-top-bottom)*(hi-v)/(hi-lo) }
	for k, s := range series {
		var pts []string
		for i, d := range days {
			if v, ok := s.value(d); ok {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(i), y(v)))
			}
		}
		fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`, s.color, strings.Join(pts, " "))
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" fill="%s" font-size="12">%s</text>`, left+8+float64(k)*70, top+12, s.color, s.name)
	}
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// rangeChart draws the share of trips inside the 10–90% range per day,
// against the 80% it should hold.
func rangeChart(days []Figures, w, h float64) template.HTML {
	var b strings.Builder
	chartFrame(&b, w, h, 0, 1, "in range", days)
	const left, bottom, top = 48.0, 36.0, 12.0
	bw := (w - left - 12) / float64(max(len(days), 1))
	y := func(v float64) float64 { return top + (h-top-bottom)*(1-v) }
	for i, d := range days {
		if v, ok := metric(d, func(f Figures) float64 { return f.Metrics.IntervalCoverage }); ok {
			fmt.Fprintf(&b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="#2c7fb8"><title>%s: %.1f%%</title></rect>`,
				left+float64(i)*bw+1, y(v), math.Max(bw-2, 1), y(0)-y(v), template.HTMLEscapeString(d.Day), 100*v)
		}
	}
	fmt.Fprintf(&b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#c0392b" stroke-dasharray="4 3"/><text x="%.0f" y="%.1f" fill="#c0392b" font-size="11">80%%</text>`,
		left, w-12, y(0.8), y(0.8), w-40, y(0.8)-3)
	b.WriteString("</svg>")
	return template.HTML(b.String())
}

// chartFrame opens an SVG with axes from lo to hi and the days below.
func chartFrame(b *strings.Builder, w, h, lo, hi float64, unit string, days []Figures) {
	const left, bottom, top = 48.0, 36.0, 12.0
	fmt.Fprintf(b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %.0f %.0f" width="100%%" role="img" aria-label="%s per day">`, w, h, unit)
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		yy := top + (h-top-bottom)*(hi-v)/(hi-lo)
		fmt.Fprintf(b, `<line x1="%.0f" x2="%.0f" y1="%.1f" y2="%.1f" stroke="#ddd"/><text x="%.0f" y="%.1f" font-size="11" text-anchor="end">%s</text>`,
			left, w-12, yy, yy, left-4, yy+4, tick(v, unit))
	}
	step := max(1, len(days)/8)
	for i := 0; i < len(days); i += step {
		xx := left + (w-left-12)*(float64(i)+0.5)/float64(len(days))
		fmt.Fprintf(b, `<text x="%.1f" y="%.0f" font-size="11" text-anchor="middle">%s</text>`, xx, h-bottom+16, template.HTMLEscapeString(shortDay(days[i].Day)))
	}
}

func tick(v float64, unit string) string {
	if unit == "in range" {
		return fmt.Sprintf("%.0f%%", 100*v)
	}
	return fmt.Sprintf("%.0f", v)
}

func metric(f Figures, get func(Figures) float64) (float64, bool) {
	if f.Metrics == nil || f.Bias == nil {
		return 0, false
	}
	v := get(f)
	return v, finite(v)
}

var reportTemplate = template.Must(template.New("report").Funcs(template.FuncMap{
	"pct":  func(v float64) string { return fmt.Sprintf("%.1f%%", 100*v) },
	"f3":   func(v float64) string { return fmt.Sprintf("%.3f", v) },
	"f3p":  func(v *float64) string { return fmt.Sprintf("%+.3f", *v) },
	"f4":   func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"base": name,
}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>taxieta accuracy: {{base .Estimates}}</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#222}
table{border-collapse:collapse;width:100%}th,td{padding:.25rem .5rem;text-align:right;border-bottom:1px solid #eee}
th:first-child,td:first-child{text-align:left}.note{color:#8a6d3b}h1{font-size:1.4rem}
.flag{background:#f8d7da;color:#721c24;font-weight:600}.nc{color:#999}
</style></head><body>
<h1>How wrong was the model?</h1>
<p>Estimates <code>{{.Estimates}}</code> by {{range $i, $m := .Models}}{{if $i}}, {{end}}<code>{{$m}}</code>{{end}},
against the trips that happened, <code>{{.Actuals}}</code>. Trips are judged when cleaning keeps them
({{.Rules.MinMinutes}} to {{.Rules.MaxMinutes}} minutes, valid zones): {{.Overall.Kept}} of {{.Overall.Trips}} matched
trips; {{.Unmatched}} of {{.Estimated}} estimates matched no trip.</p>
{{with .Overall}}{{if .Metrics}}<p><strong>Overall:</strong> RMSE {{f3 .Metrics.RMSE}} min, MAE {{f3 .Metrics.MAE}} min,
bias {{f3p .Bias}} min (estimate minus actual), {{pct .Metrics.IntervalCoverage}} of trips inside the 10–90% range (it should be about 80%).</p>
{{else}}<p class="note">Overall: {{.Note}}</p>{{end}}{{end}}
<h2>Error per day</h2>{{.ErrorChart}}
<h2>Share inside the 10–90% range per day</h2>{{.RangeChart}}
<h2>Per day</h2>
<table><thead><tr><th>day</th><th>trips</th><th>judged</th><th>RMSE</th><th>MAE</th><th>bias</th><th>in range</th></tr></thead><tbody>
{{range .Days}}<tr><td>{{.Day}}</td><td>{{.Trips}}</td><td>{{.Kept}}</td>{{if .Metrics}}<td>{{f3 .Metrics.RMSE}}</td><td>{{f3 .Metrics.MAE}}</td><td>{{f3p .Bias}}</td><td>{{pct .Metrics.IntervalCoverage}}</td>{{else}}<td colspan="4" class="note">{{.Note}}</td>{{end}}</tr>
{{end}}</tbody></table>
<h2>Drift from the training data</h2>
{{with .Drift}}{{if .Computed}}{{with .Overall}}
<p>The {{.Trips}} judged trips against the drift profile of <code>{{$.Drift.Model}}</code>. A feature is flagged when its score is
beyond both the no-drift threshold calibrated for this many trips and the minimum effect size.
{{if .Flagged}}<strong class="flag">Drift: {{range $i, $f := .Flagged}}{{if $i}}, {{end}}{{$f}}{{end}}.</strong>{{else}}No feature is flagged.{{end}}</p>
<table><thead><tr><th>feature</th><th>score</th><th>threshold</th><th>calibrated</th><th>min effect</th><th>unknown</th><th>flag</th></tr></thead><tbody>
{{range .Features}}<tr{{if .Flag}} class="flag"{{end}}><td>{{.Feature}}</td>{{if .Computed}}<td>{{f4 .Score}} {{.Kind}}</td><td>{{f4 .Threshold}}</td><td>{{f4 .Calibrated}}</td>{{else}}<td colspan="3" class="nc">not computed ({{.Trips}} trips)</td>{{end}}<td>{{.MinEffect}}</td><td>{{pct .UnknownShare}}</td><td>{{if .Flag}}DRIFT{{else}}–{{end}}</td></tr>
{{end}}</tbody></table>{{end}}
<h3>Drift per day</h3>
<p>Highlighted: flagged. A day is compared with the training trips of the same hours of week (a Sunday with the training
Sundays, hour by hour, weighted by the day's own trips per hour), its hour of week within its 24 hours, with thresholds
calibrated on days of the training data; a day with fewer than {{.MinTrips}} trips is not scored. A public holiday's trips look
like a Sunday's and may flag the zones even in a month the model learnt from.</p>
<table><thead><tr><th>day</th><th>trips</th>{{range .Overall.Features}}<th>{{.Feature}}</th>{{end}}</tr></thead><tbody>
{{range .Days}}<tr><td>{{.Day}}</td><td>{{.Trips}}</td>{{range .Features}}{{if .Computed}}<td{{if .Flag}} class="flag"{{end}}>{{f4 .Score}}</td>{{else}}<td class="nc">not computed</td>{{end}}{{end}}</tr>
{{end}}</tbody></table>
{{else}}<p class="note">Drift not computed: {{.Reason}}</p>{{end}}{{else}}<p class="note">Drift not asked for.</p>{{end}}
</body></html>
`))

// shortDay is MM-DD of a YYYY-MM-DD day, for axis labels.
func shortDay(d string) string {
	if len(d) == len("2006-01-02") {
		return d[5:]
	}
	return d
}
