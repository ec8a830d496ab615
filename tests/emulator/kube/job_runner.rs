//! The part of KubeRay's RayJob controller that talks to Ray: for each
//! running RayJob whose head pod forwards its dashboard to a real Ray (the
//! `emulator.kas.dev/forward-8265` annotation that the Ray backing sets),
//! it submits the entrypoint through Ray's Jobs REST API (not in
//! InteractiveMode, where the user's client submits) and copies the job's
//! state and message into the RayJob's status. HTTP happens outside the
//! state lock; without a real Ray nothing is asked.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::controllers::{name_of, namespace_of, save};
use super::portforward::ANNOTATION_PREFIX;
use super::rayjob::TERMINAL;
use super::store::State;

/// One running job: where to reach its dashboard and what to submit.
struct Running {
    namespace: String,
    name: String,
    id: String,
    dashboard: String,
    submit: Option<Value>,
}

/// Polls every half second until the emulator shuts down.
pub fn run(shared: Arc<Shared>) {
    let mut submitted = HashSet::new();
    loop {
        let running = {
            let state = shared.state.lock().expect("state lock");
            if state.shutdown {
                return;
            }
            running_jobs(&state)
        };
        for job in running {
            if let Some(update) = step(&job, &mut submitted) {
                let mut state = shared.state.lock().expect("state lock");
                write_status(&mut state, &job, &update);
                shared.changed.notify_all();
            }
        }
        let state = shared.state.lock().expect("state lock");
        if state.shutdown {
            return;
        }
        let _ = shared
            .changed
            .wait_timeout(state, Duration::from_millis(500))
            .expect("state lock");
    }
}

fn running_jobs(state: &State) -> Vec<Running> {
    let mut out = Vec::new();
    for job in state.list("ray.io", "rayjobs", None) {
        let status = &job["status"];
        let ended = status["jobStatus"]
            .as_str()
            .is_some_and(|s| TERMINAL.contains(&s));
        if status["jobDeploymentStatus"] != "Running" || ended {
            continue;
        }
        let (Some(id), Some(cluster)) =
            (status["jobId"].as_str(), status["rayClusterName"].as_str())
        else {
            continue;
        };
        let ns = namespace_of(&job);
        let head = state.list("", "pods", Some(&ns)).into_iter().find(|p| {
            p["metadata"]["labels"]["ray.io/cluster"] == cluster
                && p["metadata"]["labels"]["ray.io/node-type"] == "head"
        });
        let forward = format!("{ANNOTATION_PREFIX}8265");
        let Some(dashboard) = head
            .as_ref()
            .and_then(|p| p["metadata"]["annotations"][&forward].as_str())
        else {
            continue;
        };
        let submit = (job["spec"]["submissionMode"] != "InteractiveMode")
            .then(|| submission(&job["spec"], id));
        out.push(Running {
            namespace: ns,
            name: name_of(&job),
            id: id.to_string(),
            dashboard: dashboard.to_string(),
            submit,
        });
    }
    out
}

/// The Jobs API request for a RayJob's spec, as KubeRay's submitter sends
/// it.
fn submission(spec: &Value, id: &str) -> Value {
    let mut body = json!({
        "entrypoint": spec["entrypoint"].as_str().unwrap_or(""),
        "submission_id": id,
    });
    if let Some(yaml) = spec["runtimeEnvYAML"].as_str()
        && let Ok(env) = serde_yaml::from_str::<Value>(yaml)
    {
        body["runtime_env"] = env;
    }
    for (field, key) in [
        ("metadata", "metadata"),
        ("entrypointNumCpus", "entrypoint_num_cpus"),
        ("entrypointNumGpus", "entrypoint_num_gpus"),
    ] {
        if !spec[field].is_null() {
            body[key] = spec[field].clone();
        }
    }
    if let Some(resources) = spec["entrypointResources"].as_str()
        && let Ok(parsed) = serde_json::from_str::<Value>(resources)
    {
        body["entrypoint_resources"] = parsed;
    }
    body
}

/// Submits when due, then reads the job: its `(status, message)`.
fn step(job: &Running, submitted: &mut HashSet<String>) -> Option<(String, String)> {
    let path = format!("/api/jobs/{}", job.id);
    let (code, info) = request(&job.dashboard, "GET", &path, None)?;
    let key = format!("{}/{}/{}", job.namespace, job.name, job.id);
    if code == 404 {
        if let Some(body) = &job.submit
            && submitted.insert(key)
        {
            request(&job.dashboard, "POST", "/api/jobs/", Some(body));
        }
        return None;
    }
    let info: Value = serde_json::from_str(&info).ok()?;
    let status = info["status"].as_str()?.to_string();
    let message = info["message"].as_str().unwrap_or("").to_string();
    Some((status, message))
}

fn write_status(state: &mut State, job: &Running, (status, message): &(String, String)) {
    let Some(ty) = state.find_type("ray.io", "rayjobs") else {
        return;
    };
    let Some(current) = state.get(&ty, &job.namespace, &job.name).cloned() else {
        return;
    };
    if current["status"]["jobId"] != job.id.as_str()
        || (current["status"]["jobStatus"] == status.as_str()
            && current["status"]["message"] == message.as_str())
    {
        return;
    }
    let mut updated = current;
    updated["status"]["jobStatus"] = json!(status);
    updated["status"]["message"] = json!(message);
    save(state, &ty, updated);
}

/// One HTTP/1.1 request to `addr` (`HOST:PORT`): status code and body.
fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(addr).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(format!("{head}{body}").as_bytes()).ok()?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).ok()?;
    let text = String::from_utf8_lossy(&raw);
    let (head, rest) = text.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase()
            .starts_with("transfer-encoding: chunked")
    });
    Some((
        code,
        if chunked {
            dechunk(rest)
        } else {
            rest.to_string()
        },
    ))
}

/// The body of a chunked response.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunked_body_is_joined() {
        assert_eq!(dechunk("4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"), "Wikipedia");
    }

    #[test]
    fn the_submission_carries_the_spec_fields_ray_knows() {
        let spec = json!({
            "entrypoint": "python x.py",
            "runtimeEnvYAML": "pip: [emoji]\nenv_vars: {A: b}\n",
            "entrypointNumCpus": 1.5,
            "metadata": {"team": "ml"},
            "entrypointResources": "{\"TPU\": 1}",
        });
        let body = submission(&spec, "job-1");
        assert_eq!(body["entrypoint"], "python x.py");
        assert_eq!(body["submission_id"], "job-1");
        assert_eq!(body["runtime_env"]["pip"][0], "emoji");
        assert_eq!(body["runtime_env"]["env_vars"]["A"], "b");
        assert_eq!(body["entrypoint_num_cpus"], 1.5);
        assert_eq!(body["metadata"]["team"], "ml");
        assert_eq!(body["entrypoint_resources"]["TPU"], 1);
    }
}
