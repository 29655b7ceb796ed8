//! Test-only: every answer the node sends is checked against the operation's model, and each
//! departure is logged and appended as one JSON line to a file the test harness reads at the end
//! of its run (`tests/integration/conftest.py`). The answer itself is never changed, so a whole
//! suite runs and reports every departure at once.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rampart_protocol::conformance::{self, Violation};
use rampart_protocol::{AwsError, Identified};
use serde_json::{json, Value};

/// Where departures are recorded.
#[derive(Debug)]
pub struct ResponseCheck {
    file: PathBuf,
}

impl ResponseCheck {
    /// Record into `target`, or DATA_DIR/response-violations.jsonl when `target` is `1`.
    #[must_use]
    pub fn new(target: &Path, data_dir: &Path) -> Self {
        let file = if target.as_os_str() == "1" {
            data_dir.join("response-violations.jsonl")
        } else {
            target.to_path_buf()
        };
        tracing::warn!(file = %file.display(), "test-only response validation is on");
        ResponseCheck { file }
    }

    /// Check the answer to `id`: its output when it succeeded, its error code otherwise.
    pub fn check(&self, id: &Identified, answer: Result<&Value, &AwsError>, request_id: &str) {
        let Some(op) = id.op() else {
            return;
        };
        let found = match answer {
            Ok(output) => conformance::check_output(id.model, id.protocol, op, output),
            Err(e) => conformance::check_error(id.model, op, &e.code)
                .into_iter()
                .collect(),
        };
        if !found.is_empty() {
            self.record(id, &found, request_id);
        }
    }

    fn record(&self, id: &Identified, found: &[Violation], request_id: &str) {
        let mut lines = String::new();
        for v in found {
            tracing::error!(service = id.model.key, operation = %id.operation, path = %v.path,
                problem = %v.problem, "answer departs from the model");
            let line = json!({
                "service": id.model.key,
                "operation": id.operation,
                "path": v.path,
                "problem": v.problem,
                "request_id": request_id,
            });
            lines.push_str(&line.to_string());
            lines.push('\n');
        }
        // One append per answer, so that nodes sharing the file do not interleave lines.
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.file)
            .and_then(|mut f| f.write_all(lines.as_bytes()));
        if let Err(e) = written {
            tracing::error!(file = %self.file.display(), error = %e, "cannot record response violations");
        }
    }
}

#[cfg(test)]
mod tests {
    use rampart_protocol::model::Protocol;
    use rampart_protocol::{AwsError, Identified};
    use serde_json::json;

    use super::ResponseCheck;

    fn encrypt() -> Identified {
        Identified {
            model: &rampart_protocol::generated::kms::MODEL,
            protocol: Protocol::AwsJson,
            operation: "Encrypt".into(),
            labels: Vec::new(),
        }
    }

    #[test]
    fn departures_are_appended_as_json_lines_and_conforming_answers_are_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let check = ResponseCheck::new(std::path::Path::new("1"), dir.path());
        let file = dir.path().join("response-violations.jsonl");
        let good = json!({ "KeyId": "k", "CiphertextBlob": "AAEC", "EncryptionAlgorithm": "SYMMETRIC_DEFAULT" });
        check.check(&encrypt(), Ok(&good), "r0");
        check.check(
            &encrypt(),
            Err(&AwsError::new("NotFoundException", 400, "")),
            "r1",
        );
        assert!(!file.exists());
        check.check(
            &encrypt(),
            Ok(&json!({ "EncryptionAlgorithm": "ROT13" })),
            "r2",
        );
        check.check(
            &encrypt(),
            Err(&AwsError::new("NoSuchBucket", 404, "")),
            "r3",
        );
        let text = std::fs::read_to_string(&file).expect("violations");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["path"], "EncryptionAlgorithm");
        assert_eq!(lines[0]["request_id"], "r2");
        assert_eq!(lines[1]["path"], "error");
        assert_eq!(lines[1]["operation"], "Encrypt");
    }
}
