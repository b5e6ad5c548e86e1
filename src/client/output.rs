//! How the client prints: one readable line per item, or one JSON document per
//! line with `--json` (for scripts and `jq`).

use serde_json::Value;

pub struct Printer {
    pub json: bool,
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value[field].as_str().unwrap_or("-")
}

impl Printer {
    fn line(&self, value: &Value, readable: String) {
        if self.json {
            println!("{value}");
        } else {
            println!("{readable}");
        }
    }

    pub fn channel(&self, c: &Value) {
        let visibility = if c["is_public"] == true {
            "public"
        } else {
            "private"
        };
        self.line(
            c,
            format!(
                "{}  {}  {visibility}  events={}  subscribers={}",
                text(c, "id"),
                text(c, "name"),
                c["event_count"],
                c["subscribers"]
            ),
        );
    }

    pub fn token(&self, t: &Value) {
        let secret = t["token"]
            .as_str()
            .map(|s| format!("  token={s}"))
            .unwrap_or_default();
        self.line(
            t,
            format!(
                "{}  {}  {}  expires={}{secret}",
                text(t, "id"),
                text(t, "kind"),
                text(t, "name"),
                text(t, "expires_at")
            ),
        );
    }

    pub fn event(&self, e: &Value) {
        self.line(
            e,
            format!(
                "{}  {}  {}  {}",
                text(e, "created_at"),
                text(e, "id"),
                text(e, "type"),
                e["data"]
            ),
        );
    }

    pub fn webhook(&self, w: &Value) {
        let secret = w["secret"]
            .as_str()
            .map(|s| format!("  secret={s}"))
            .unwrap_or_default();
        self.line(
            w,
            format!(
                "{}  {}  {}  expires={}{secret}",
                text(w, "id"),
                text(w, "url"),
                text(w, "state"),
                text(w, "expires_at")
            ),
        );
    }

    pub fn done(&self, message: &str) {
        if !self.json {
            println!("{message}");
        }
    }
}
