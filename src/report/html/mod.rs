//! `--html PATH`: one self-contained HTML page for the whole organization (a pure function of the report).
//!
//! Nothing is fetched when it is viewed: the styles and the script are inline, the data is embedded once as
//! JSON, and a Content-Security-Policy of `default-src 'none'` forbids any request. The overview, the
//! totals and the accounts-by-checks heatmap are rendered here (so they show, and print, without the
//! script); the script adds the region drill-down and the findings table with its sorting and filters.

mod data;

use minijinja::{Environment, context};

use self::data::{Page, page};
use crate::model::ScanReport;

const TEMPLATE: &str = include_str!("template.html");
const STYLE: &str = include_str!("style.css");
const SCRIPT: &str = include_str!("app.js");

#[derive(Debug, thiserror::Error)]
pub enum HtmlError {
    #[error("cannot render the HTML report: {0}")]
    Render(String),
}

/// The JSON of the page data, safe inside a `<script>` element: every `<` is written as `\u003c` (valid JSON,
/// and no `</script>` or `<!--` can close or confuse the element), and so are U+2028/U+2029.
fn embed(page: &Page) -> Result<String, HtmlError> {
    let json = serde_json::to_string(page).map_err(|e| HtmlError::Render(e.to_string()))?;
    Ok(json.replace('<', "\\u003c").replace('\u{2028}', "\\u2028").replace('\u{2029}', "\\u2029"))
}

/// Renders the page.
pub fn render(report: &ScanReport) -> Result<String, HtmlError> {
    let p = page(report);
    let data = embed(&p)?;
    let mut env = Environment::new();
    // The template's name ends in .html: minijinja escapes every value for HTML unless marked `safe`.
    env.add_template("report.html", TEMPLATE).map_err(|e| HtmlError::Render(e.to_string()))?;
    let t = env.get_template("report.html").map_err(|e| HtmlError::Render(e.to_string()))?;
    t.render(context! { page => minijinja::value::Serde(&p), data => data, style => STYLE, script => SCRIPT })
        .map_err(|e| HtmlError::Render(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check;
    use crate::model::{Finding, Subject, Target};

    #[test]
    fn data_cannot_close_its_script_element_and_markup_is_escaped() {
        let t = Target::new("123456789012".parse().unwrap(), "eu-west-1".parse().unwrap());
        let f = Finding::builder(check::kms::INFO, &t)
            .resource("AwsKmsKey", "k</script><b>x", "arn:aws:kms:eu-west-1:123456789012:key/k")
            .fail("<img src=x onerror=alert(1)> pending")
            .build()
            .unwrap();
        let r = ScanReport { findings: vec![f], ..ScanReport::new(Subject::Account(t.account.clone()), vec![check::kms::INFO]) };
        let html = render(&r).unwrap();
        assert!(!html.contains("</script><b>"), "the data cannot end its element");
        assert!(!html.contains("<img src=x"), "no markup from the data");
        assert!(html.contains("default-src 'none'"));
        assert_eq!(html.matches("</script>").count(), 2, "the data and the script, nothing else");
    }
}
