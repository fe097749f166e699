//! Typed chart data extracted from matplotlib figures (the `e2b/chart` MIME type).
//!
//! The sandbox's display formatter turns every matplotlib figure into JSON (the `e2b-charts`
//! package); [`Chart`] is that JSON, typed. A figure with several axes is a
//! [`SuperChart`] holding one chart per axes.
//!
//! Decoding is tolerant, because the producer evolves independently of this crate: unknown
//! fields are kept in each type's `extra` map, an unknown scale is
//! [`ScaleType::Unknown`], an unknown chart type (or a known one whose shape no longer
//! matches) is [`Chart::Unknown`] with the raw JSON, missing values take their defaults and
//! numbers that cannot be read are `NaN`. A chart never makes an execution fail.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

/// The kind of a [`Chart`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChartType {
    /// `line`: [`Chart::Line`].
    Line,
    /// `scatter`: [`Chart::Scatter`].
    Scatter,
    /// `bar`: [`Chart::Bar`].
    Bar,
    /// `pie`: [`Chart::Pie`].
    Pie,
    /// `box_and_whisker`: [`Chart::BoxAndWhisker`].
    BoxAndWhisker,
    /// `superchart`: [`Chart::SuperChart`].
    SuperChart,
    /// `unknown`, or a type this crate does not know: [`Chart::Unknown`].
    Unknown,
}

impl ChartType {
    /// The wire name (`"line"`, `"box_and_whisker"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            ChartType::Line => "line",
            ChartType::Scatter => "scatter",
            ChartType::Bar => "bar",
            ChartType::Pie => "pie",
            ChartType::BoxAndWhisker => "box_and_whisker",
            ChartType::SuperChart => "superchart",
            ChartType::Unknown => "unknown",
        }
    }

    fn from_wire(name: &str) -> ChartType {
        match name {
            "line" => ChartType::Line,
            "scatter" => ChartType::Scatter,
            "bar" => ChartType::Bar,
            "pie" => ChartType::Pie,
            "box_and_whisker" => ChartType::BoxAndWhisker,
            "superchart" => ChartType::SuperChart,
            _ => ChartType::Unknown,
        }
    }
}

/// The scale of an axis (matplotlib's scale names).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ScaleType {
    /// `linear`.
    Linear,
    /// `datetime`: tick values are ISO-8601 strings.
    Datetime,
    /// `categorical`: tick values are category names.
    Categorical,
    /// `log`.
    Log,
    /// `symlog`.
    Symlog,
    /// `logit`.
    Logit,
    /// `function`.
    Function,
    /// `functionlog`.
    Functionlog,
    /// `asinh`.
    Asinh,
    /// `unknown`, or no scale given.
    #[default]
    Unknown,
    /// A scale name this crate does not know.
    Other(String),
}

impl ScaleType {
    fn from_wire(value: &Value) -> ScaleType {
        match value.as_str() {
            Some("linear") => ScaleType::Linear,
            Some("datetime") => ScaleType::Datetime,
            Some("categorical") => ScaleType::Categorical,
            Some("log") => ScaleType::Log,
            Some("symlog") => ScaleType::Symlog,
            Some("logit") => ScaleType::Logit,
            Some("function") => ScaleType::Function,
            Some("functionlog") => ScaleType::Functionlog,
            Some("asinh") => ScaleType::Asinh,
            Some("unknown") | None => ScaleType::Unknown,
            Some(other) => ScaleType::Other(other.to_owned()),
        }
    }

    /// The wire name; empty for [`ScaleType::Unknown`].
    pub fn as_str(&self) -> &str {
        match self {
            ScaleType::Linear => "linear",
            ScaleType::Datetime => "datetime",
            ScaleType::Categorical => "categorical",
            ScaleType::Log => "log",
            ScaleType::Symlog => "symlog",
            ScaleType::Logit => "logit",
            ScaleType::Function => "function",
            ScaleType::Functionlog => "functionlog",
            ScaleType::Asinh => "asinh",
            ScaleType::Unknown => "",
            ScaleType::Other(name) => name,
        }
    }
}

impl<'de> Deserialize<'de> for ScaleType {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ScaleType::from_wire(&Value::deserialize(d)?))
    }
}

/// A value on an axis: a number, or text (categories, ISO-8601 dates).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum ChartValue {
    /// A number.
    Number(f64),
    /// Text: a category, a date (ISO-8601), a label.
    Text(String),
    /// Anything else the producer sent (`null`, …), as JSON.
    Other(Value),
}

impl ChartValue {
    /// The number, if this is one.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            ChartValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ChartValue::Text(s) => Some(s),
            _ => None,
        }
    }

    fn from_wire(value: Value) -> ChartValue {
        match value {
            Value::Number(n) => n
                .as_f64()
                .map_or(ChartValue::Other(Value::Number(n)), ChartValue::Number),
            Value::String(s) => ChartValue::Text(s),
            other => ChartValue::Other(other),
        }
    }
}

impl<'de> Deserialize<'de> for ChartValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ChartValue::from_wire(Value::deserialize(d)?))
    }
}

/// A chart extracted from a matplotlib figure; see the [module docs](self).
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Chart {
    /// A line chart.
    Line(PointChart),
    /// A scatter chart.
    Scatter(PointChart),
    /// A bar chart.
    Bar(BarChart),
    /// A pie chart.
    Pie(PieChart),
    /// A box-and-whisker chart.
    BoxAndWhisker(BoxAndWhiskerChart),
    /// Several charts in one figure (one per axes).
    SuperChart(SuperChart),
    /// A chart of type `unknown`, of a type this crate does not know, or whose data did not
    /// have the expected shape.
    Unknown(UnknownChart),
}

impl Chart {
    /// Decode a chart from its JSON. `None` for anything but a non-empty object (a blank
    /// figure is `{}`).
    pub fn from_json(value: &Value) -> Option<Chart> {
        let object = value.as_object().filter(|o| !o.is_empty())?;
        let type_name = object.get("type").and_then(Value::as_str).unwrap_or("");
        let typed = match ChartType::from_wire(type_name) {
            ChartType::Line => typed(value).map(Chart::Line),
            ChartType::Scatter => typed(value).map(Chart::Scatter),
            ChartType::Bar => typed(value).map(Chart::Bar),
            ChartType::Pie => typed(value).map(Chart::Pie),
            ChartType::BoxAndWhisker => typed(value).map(Chart::BoxAndWhisker),
            ChartType::SuperChart => Some(Chart::SuperChart(SuperChart::from_object(object))),
            ChartType::Unknown => None,
        };
        Some(typed.unwrap_or_else(|| {
            Chart::Unknown(UnknownChart {
                type_name: type_name.to_owned(),
                title: object
                    .get("title")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                elements: object
                    .get("elements")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default(),
                raw: value.clone(),
            })
        }))
    }

    /// The chart's type ([`ChartType::Unknown`] for [`Chart::Unknown`]).
    pub fn chart_type(&self) -> ChartType {
        match self {
            Chart::Line(_) => ChartType::Line,
            Chart::Scatter(_) => ChartType::Scatter,
            Chart::Bar(_) => ChartType::Bar,
            Chart::Pie(_) => ChartType::Pie,
            Chart::BoxAndWhisker(_) => ChartType::BoxAndWhisker,
            Chart::SuperChart(_) => ChartType::SuperChart,
            Chart::Unknown(_) => ChartType::Unknown,
        }
    }

    /// The chart's title (the figure's suptitle for a [`SuperChart`]).
    pub fn title(&self) -> Option<&str> {
        match self {
            Chart::Line(c) | Chart::Scatter(c) => c.title.as_deref(),
            Chart::Bar(c) => c.title.as_deref(),
            Chart::Pie(c) => c.title.as_deref(),
            Chart::BoxAndWhisker(c) => c.title.as_deref(),
            Chart::SuperChart(c) => c.title.as_deref(),
            Chart::Unknown(c) => c.title.as_deref(),
        }
    }
}

/// Decode a known chart type; `None` if its data does not have the expected shape.
fn typed<T: serde::de::DeserializeOwned>(value: &Value) -> Option<T> {
    match T::deserialize(value) {
        Ok(chart) => Some(chart),
        Err(error) => {
            tracing::warn!(%error, "chart data has an unexpected shape; kept as an unknown chart");
            None
        }
    }
}

/// A line or scatter chart: series of points on two axes.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PointChart {
    /// The axes' title.
    #[serde(deserialize_with = "opt_string")]
    pub title: Option<String>,
    /// The x axis label.
    #[serde(deserialize_with = "opt_string")]
    pub x_label: Option<String>,
    /// The y axis label.
    #[serde(deserialize_with = "opt_string")]
    pub y_label: Option<String>,
    /// The x unit, parsed from `(unit)` or `[unit]` in the label.
    #[serde(deserialize_with = "opt_string")]
    pub x_unit: Option<String>,
    /// The y unit.
    #[serde(deserialize_with = "opt_string")]
    pub y_unit: Option<String>,
    /// The x tick positions.
    #[serde(deserialize_with = "values")]
    pub x_ticks: Vec<ChartValue>,
    /// The x tick labels.
    #[serde(deserialize_with = "strings")]
    pub x_tick_labels: Vec<String>,
    /// The x axis scale.
    pub x_scale: ScaleType,
    /// The y tick positions.
    #[serde(deserialize_with = "values")]
    pub y_ticks: Vec<ChartValue>,
    /// The y tick labels.
    #[serde(deserialize_with = "strings")]
    pub y_tick_labels: Vec<String>,
    /// The y axis scale.
    pub y_scale: ScaleType,
    /// One series per line (or scatter collection).
    pub elements: Vec<PointData>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One series of a [`PointChart`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PointData {
    /// The series' legend label.
    #[serde(deserialize_with = "string")]
    pub label: String,
    /// The points, `(x, y)`; dates are ISO-8601 text.
    #[serde(deserialize_with = "points")]
    pub points: Vec<(ChartValue, ChartValue)>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A bar chart.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BarChart {
    /// The axes' title.
    #[serde(deserialize_with = "opt_string")]
    pub title: Option<String>,
    /// The x axis label.
    #[serde(deserialize_with = "opt_string")]
    pub x_label: Option<String>,
    /// The y axis label.
    #[serde(deserialize_with = "opt_string")]
    pub y_label: Option<String>,
    /// The x unit.
    #[serde(deserialize_with = "opt_string")]
    pub x_unit: Option<String>,
    /// The y unit.
    #[serde(deserialize_with = "opt_string")]
    pub y_unit: Option<String>,
    /// One element per bar.
    pub elements: Vec<BarData>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One bar of a [`BarChart`].
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BarData {
    /// The bar's label (its x tick label).
    #[serde(deserialize_with = "string")]
    pub label: String,
    /// The group (legend label) the bar belongs to.
    #[serde(deserialize_with = "string")]
    pub group: String,
    /// The bar's height: a number from the current producer (older SDKs typed it text).
    pub value: ChartValue,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for BarData {
    fn default() -> Self {
        BarData {
            label: String::new(),
            group: String::new(),
            value: ChartValue::Other(Value::Null),
            extra: Map::new(),
        }
    }
}

/// A pie chart.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PieChart {
    /// The axes' title.
    #[serde(deserialize_with = "opt_string")]
    pub title: Option<String>,
    /// One element per wedge.
    pub elements: Vec<PieData>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One wedge of a [`PieChart`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PieData {
    /// The wedge's label.
    #[serde(deserialize_with = "string")]
    pub label: String,
    /// The wedge's angle, in degrees.
    #[serde(deserialize_with = "number")]
    pub angle: f64,
    /// The wedge's radius.
    #[serde(deserialize_with = "number")]
    pub radius: f64,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A box-and-whisker chart.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BoxAndWhiskerChart {
    /// The axes' title.
    #[serde(deserialize_with = "opt_string")]
    pub title: Option<String>,
    /// The x axis label.
    #[serde(deserialize_with = "opt_string")]
    pub x_label: Option<String>,
    /// The y axis label.
    #[serde(deserialize_with = "opt_string")]
    pub y_label: Option<String>,
    /// The x unit.
    #[serde(deserialize_with = "opt_string")]
    pub x_unit: Option<String>,
    /// The y unit.
    #[serde(deserialize_with = "opt_string")]
    pub y_unit: Option<String>,
    /// One element per box.
    pub elements: Vec<BoxAndWhiskerData>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One box of a [`BoxAndWhiskerChart`].
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct BoxAndWhiskerData {
    /// The box's label.
    #[serde(deserialize_with = "string")]
    pub label: String,
    /// The lower whisker.
    #[serde(deserialize_with = "number")]
    pub min: f64,
    /// The first quartile (bottom of the box).
    #[serde(deserialize_with = "number")]
    pub first_quartile: f64,
    /// The median.
    #[serde(deserialize_with = "number")]
    pub median: f64,
    /// The third quartile (top of the box).
    #[serde(deserialize_with = "number")]
    pub third_quartile: f64,
    /// The upper whisker.
    #[serde(deserialize_with = "number")]
    pub max: f64,
    /// The outliers.
    #[serde(deserialize_with = "numbers")]
    pub outliers: Vec<f64>,
    /// Fields this crate does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A figure with several axes: one chart per axes.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SuperChart {
    /// The figure's title (suptitle).
    pub title: Option<String>,
    /// The charts, one per axes, in the figure's order.
    pub elements: Vec<Chart>,
    /// Fields this crate does not know.
    pub extra: Map<String, Value>,
}

impl SuperChart {
    fn from_object(object: &Map<String, Value>) -> SuperChart {
        let mut chart = SuperChart::default();
        for (key, value) in object {
            match key.as_str() {
                "type" => {}
                "title" => chart.title = value.as_str().map(str::to_owned),
                "elements" => {
                    chart.elements = value
                        .as_array()
                        .map(|a| a.iter().filter_map(Chart::from_json).collect())
                        .unwrap_or_default();
                }
                _ => {
                    chart.extra.insert(key.clone(), value.clone());
                }
            }
        }
        chart
    }
}

/// A chart this crate could not type; see [`Chart::Unknown`].
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct UnknownChart {
    /// The `type` the producer gave (e.g. `"unknown"`, or a newer type's name).
    pub type_name: String,
    /// The title, if any.
    pub title: Option<String>,
    /// The elements, as JSON.
    pub elements: Vec<Value>,
    /// The whole chart, as JSON.
    pub raw: Value,
}

// Lenient field decoders: they never fail, so a chart with an odd value still decodes.

fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        other => Some(other.to_string()),
    })
}

fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string(d)?.unwrap_or_default())
}

fn to_f64(value: &Value) -> f64 {
    match value {
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s.trim().parse().unwrap_or(f64::NAN),
        _ => f64::NAN,
    }
}

fn number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(to_f64(&Value::deserialize(d)?))
}

fn array(value: Value) -> Vec<Value> {
    match value {
        Value::Array(items) => items,
        _ => Vec::new(),
    }
}

fn numbers<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    Ok(array(Value::deserialize(d)?).iter().map(to_f64).collect())
}

fn values<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ChartValue>, D::Error> {
    Ok(array(Value::deserialize(d)?)
        .into_iter()
        .map(ChartValue::from_wire)
        .collect())
}

fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(array(Value::deserialize(d)?)
        .into_iter()
        .map(|v| match v {
            Value::String(s) => s,
            other => other.to_string(),
        })
        .collect())
}

fn points<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(ChartValue, ChartValue)>, D::Error> {
    Ok(array(Value::deserialize(d)?)
        .into_iter()
        .filter_map(|point| {
            let mut xy = array(point).into_iter();
            Some((
                ChartValue::from_wire(xy.next()?),
                ChartValue::from_wire(xy.next()?),
            ))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn line_chart_every_field() {
        let value = json!({
            "type": "line", "title": "Sine", "x_label": "t (s)", "y_label": "v", "x_unit": "s",
            "y_unit": null, "x_ticks": [0, 1.5, "2020-01-01T00:00:00"], "x_tick_labels": ["0", "1.5", "d"],
            "x_scale": "linear", "y_ticks": [-1, 1], "y_tick_labels": ["-1", "1"], "y_scale": "weird",
            "elements": [{"label": "sin", "points": [[0, 0.0], [1, 0.84], ["2020-01-01", 3]]}],
            "new_field": 7
        });
        let Some(Chart::Line(chart)) = Chart::from_json(&value) else {
            panic!("not a line chart")
        };
        assert_eq!(chart.title.as_deref(), Some("Sine"));
        assert_eq!(chart.x_label.as_deref(), Some("t (s)"));
        assert_eq!(chart.x_unit.as_deref(), Some("s"));
        assert_eq!(chart.y_unit, None);
        assert_eq!(chart.x_ticks[1], ChartValue::Number(1.5));
        assert_eq!(chart.x_ticks[2].as_str(), Some("2020-01-01T00:00:00"));
        assert_eq!(chart.x_scale, ScaleType::Linear);
        assert_eq!(chart.y_scale, ScaleType::Other("weird".into()));
        assert_eq!(chart.elements[0].label, "sin");
        assert_eq!(chart.elements[0].points.len(), 3);
        assert_eq!(chart.elements[0].points[1].1.as_f64(), Some(0.84));
        assert_eq!(chart.extra["new_field"], 7);
    }

    #[test]
    fn bar_pie_box_and_superchart() {
        let value = json!({
            "type": "superchart", "title": "All", "elements": [
                {"type": "bar", "title": "B", "x_label": "x", "y_label": "y", "x_unit": null, "y_unit": null,
                 "elements": [{"label": "A", "group": "g", "value": 10.0}, {"label": "B", "group": "g", "value": "3"}]},
                {"type": "pie", "title": "P", "elements": [{"label": "a", "angle": 90.0, "radius": 1.0}]},
                {"type": "box_and_whisker", "title": "W", "x_label": null, "y_label": null, "x_unit": null,
                 "y_unit": null, "elements": [{"label": "s", "min": 1, "first_quartile": 2, "median": 3,
                 "third_quartile": 4, "max": 5, "outliers": [9, null]}]},
                {"type": "scatter", "elements": [{"label": "p", "points": [[1, 2]]}]},
                {"type": "sankey", "title": "S", "elements": [1]},
                {}
            ]
        });
        let Some(Chart::SuperChart(chart)) = Chart::from_json(&value) else {
            panic!("not a superchart")
        };
        assert_eq!(chart.title.as_deref(), Some("All"));
        assert_eq!(chart.elements.len(), 5, "the blank chart is skipped");
        let Chart::Bar(bar) = &chart.elements[0] else {
            panic!()
        };
        assert_eq!(bar.elements[0].value, ChartValue::Number(10.0));
        assert_eq!(bar.elements[1].value.as_str(), Some("3"));
        let Chart::Pie(pie) = &chart.elements[1] else {
            panic!()
        };
        assert_eq!(pie.elements[0].angle, 90.0);
        let Chart::BoxAndWhisker(bw) = &chart.elements[2] else {
            panic!()
        };
        let b = &bw.elements[0];
        assert_eq!(
            (b.min, b.first_quartile, b.median, b.third_quartile, b.max),
            (1.0, 2.0, 3.0, 4.0, 5.0)
        );
        assert_eq!(b.outliers[0], 9.0);
        assert!(b.outliers[1].is_nan());
        assert_eq!(chart.elements[3].chart_type(), ChartType::Scatter);
        let Chart::Unknown(unknown) = &chart.elements[4] else {
            panic!()
        };
        assert_eq!(unknown.type_name, "sankey");
        assert_eq!(chart.elements[4].title(), Some("S"));
    }

    #[test]
    fn odd_shapes_never_fail() {
        assert_eq!(Chart::from_json(&json!({})), None);
        assert_eq!(Chart::from_json(&json!(null)), None);
        assert_eq!(Chart::from_json(&json!([1])), None);
        // A known type whose elements are not objects: kept as unknown, with the raw JSON.
        let value = json!({"type": "pie", "elements": "nope"});
        let Some(Chart::Unknown(chart)) = Chart::from_json(&value) else {
            panic!()
        };
        assert_eq!(chart.type_name, "pie");
        assert_eq!(chart.raw, value);
        // Missing fields take defaults.
        let Some(Chart::Line(line)) = Chart::from_json(&json!({"type": "line"})) else {
            panic!()
        };
        assert_eq!(line.x_scale, ScaleType::Unknown);
        assert!(line.elements.is_empty());
        let Some(Chart::Unknown(u)) = Chart::from_json(&json!({"type": "unknown", "title": "t"}))
        else {
            panic!()
        };
        assert_eq!(u.title.as_deref(), Some("t"));
    }
}
