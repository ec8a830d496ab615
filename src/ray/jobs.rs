//! Ray's Jobs REST API on a cluster's dashboard (port 8265), spoken
//! directly, so no Ray is needed on this side: the version check, package
//! upload, submit, status, logs, stop and list, with the request and
//! answer shapes of Ray's `dashboard/modules/job`.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::package::Package;

/// What `POST /api/jobs/` takes (Ray's `JobSubmitRequest`); unset fields
/// are left out so Ray applies its own defaults.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SubmitRequest {
    pub entrypoint: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submission_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runtime_env: Option<serde_json::Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_cpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_num_gpus: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_memory: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint_resources: Option<BTreeMap<String, f64>>,
}

/// One job as `GET /api/jobs/{id}` and `GET /api/jobs/` describe it (the
/// fields this tool shows; the rest is kept in `extra` for `-o json`).
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct JobDetails {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub job_id: Option<String>,
    #[serde(default)]
    pub submission_id: Option<String>,
    pub status: String,
    #[serde(default)]
    pub entrypoint: String,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub error_type: Option<String>,
    #[serde(default)]
    pub start_time: Option<u64>,
    #[serde(default)]
    pub end_time: Option<u64>,
    #[serde(default)]
    pub driver_exit_code: Option<i64>,
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

impl JobDetails {
    /// SUCCEEDED, FAILED or STOPPED: it will not change any more.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status.as_str(), "SUCCEEDED" | "FAILED" | "STOPPED")
    }

    /// The submission id, else the driver's job id.
    pub fn id(&self) -> &str {
        self.submission_id
            .as_deref()
            .or(self.job_id.as_deref())
            .unwrap_or("-")
    }
}

/// A dashboard's address and the headers every request carries.
pub struct Dashboard {
    base: String,
    headers: Vec<(String, String)>,
    agent: ureq::Agent,
}

/// An answer: its status and body.
struct Answer {
    status: u16,
    body: String,
}

impl Dashboard {
    /// `address` as `http://HOST:PORT` (a trailing slash is dropped).
    pub fn new(address: &str, headers: Vec<(String, String)>) -> Result<Dashboard> {
        let base = address.trim_end_matches('/').to_string();
        if base.starts_with("https://") {
            bail!(
                "{address}: HTTPS dashboards are not supported yet; reach the dashboard over HTTP \
                 (leave out --address to go through a port-forward)"
            );
        }
        let base = if base.contains("://") {
            base
        } else {
            format!("http://{base}")
        };
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(600)))
            .build();
        Ok(Dashboard {
            base,
            headers,
            agent: ureq::Agent::new_with_config(config),
        })
    }

    pub fn address(&self) -> &str {
        &self.base
    }

    fn request(&self, method: &str, path: &str, body: Option<Vec<u8>>) -> Result<Answer> {
        let url = format!("{}{path}", self.base);
        let sent = match (method, body) {
            ("GET", _) => {
                let mut req = self.agent.get(&url);
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                req.call()
            }
            (_, body) => {
                let mut req = match method {
                    "PUT" => self.agent.put(&url),
                    _ => self.agent.post(&url),
                };
                for (k, v) in &self.headers {
                    req = req.header(k, v);
                }
                match body {
                    Some(bytes) => req.send(&bytes[..]),
                    None => req.send_empty(),
                }
            }
        };
        let mut response = sent.map_err(|e| {
            anyhow::anyhow!("could not reach the Ray dashboard at {}: {e}", self.base)
        })?;
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_string()
            .with_context(|| format!("could not read the answer to {method} {path}"))?;
        Ok(Answer { status, body })
    }

    fn json<T: serde::de::DeserializeOwned>(
        &self,
        method: &str,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<T> {
        let answer = self.request(method, path, body)?;
        if answer.status != 200 {
            bail!("{}", failure(method, path, &answer));
        }
        serde_json::from_str(&answer.body).with_context(|| {
            format!("the Ray dashboard answered {method} {path} with unexpected JSON")
        })
    }

    /// `GET /api/version`: Ray's version on the cluster.
    pub fn version(&self) -> Result<String> {
        let v: Value = self.json("GET", "/api/version", None)?;
        Ok(v["ray_version"].as_str().unwrap_or("?").to_string())
    }

    /// Whether `GET /api/version` answers now (for waiting on a forward).
    pub fn answers(&self) -> bool {
        self.request("GET", "/api/version", None)
            .is_ok_and(|a| a.status == 200)
    }

    /// Uploads the package unless the cluster has it already (`GET`, then
    /// `PUT /api/packages/gcs/NAME`); whether it was uploaded.
    pub fn upload(&self, package: &Package) -> Result<bool> {
        let path = format!("/api/packages/gcs/{}", package.name);
        let found = self.request("GET", &path, None)?;
        match found.status {
            200 => return Ok(false),
            404 => {}
            _ => bail!("{}", failure("GET", &path, &found)),
        }
        let put = self.request("PUT", &path, Some(package.bytes.clone()))?;
        if put.status != 200 {
            bail!("{}", failure("PUT", &path, &put));
        }
        Ok(true)
    }

    /// `POST /api/jobs/`: the submission id.
    pub fn submit(&self, request: &SubmitRequest) -> Result<String> {
        let body = serde_json::to_vec(request)?;
        let v: Value = self.json("POST", "/api/jobs/", Some(body))?;
        v["submission_id"]
            .as_str()
            .map(str::to_string)
            .context("the Ray dashboard accepted the job but named no submission_id")
    }

    /// `GET /api/jobs/{id}`; `None` when there is no such job.
    pub fn status(&self, id: &str) -> Result<Option<JobDetails>> {
        let path = format!("/api/jobs/{id}");
        let answer = self.request("GET", &path, None)?;
        if answer.status == 404 {
            return Ok(None);
        }
        if answer.status != 200 {
            bail!("{}", failure("GET", &path, &answer));
        }
        Ok(Some(serde_json::from_str(&answer.body).with_context(
            || format!("the Ray dashboard answered GET {path} with unexpected JSON"),
        )?))
    }

    /// `GET /api/jobs/{id}/logs`: the whole log so far.
    pub fn logs(&self, id: &str) -> Result<String> {
        let v: Value = self.json("GET", &format!("/api/jobs/{id}/logs"), None)?;
        Ok(v["logs"].as_str().unwrap_or_default().to_string())
    }

    /// `POST /api/jobs/{id}/stop`: whether a running job was told to stop.
    pub fn stop(&self, id: &str) -> Result<bool> {
        let v: Value = self.json("POST", &format!("/api/jobs/{id}/stop"), None)?;
        Ok(v["stopped"].as_bool().unwrap_or(false))
    }

    /// `GET /api/jobs/`: every job, submitted or driver-started.
    pub fn list(&self) -> Result<Vec<JobDetails>> {
        self.json("GET", "/api/jobs/", None)
    }
}

/// Ray's way of saying a request failed: the status and its text (often
/// a Python traceback, whose last line says the most).
fn failure(method: &str, path: &str, answer: &Answer) -> String {
    let text = answer.body.trim();
    let last = text.lines().last().unwrap_or("").trim();
    let said = if text.lines().count() > 1 {
        format!("{last}\n{text}")
    } else {
        text.to_string()
    };
    format!(
        "the Ray dashboard refused {method} {path} (HTTP {}): {said}",
        answer.status
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_fields_are_left_out_of_the_request() {
        let request = SubmitRequest {
            entrypoint: "python x.py".into(),
            entrypoint_num_cpus: Some(0.5),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&request).unwrap(),
            r#"{"entrypoint":"python x.py","entrypoint_num_cpus":0.5}"#
        );
    }
}
