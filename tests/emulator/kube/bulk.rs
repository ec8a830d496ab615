//! Many objects stored at once, for tests that need hundreds of them
//! (a `get` over 500 RayClusters): one lock and one round of the
//! controllers instead of one API request and one round each.

use anyhow::{Result, anyhow};
use serde_json::Value;

use super::KubeEmulator;

impl KubeEmulator {
    /// Creates each object (namespaced ones in their `metadata.namespace`,
    /// else `default`) as a create request would, group and plural given.
    pub fn create_many(&self, group: &str, plural: &str, objects: Vec<Value>) -> Result<()> {
        let mut state = self.shared.state.lock().expect("state lock");
        let ty = state
            .find_type(group, plural)
            .ok_or_else(|| anyhow!("the emulator serves no {plural}.{group}"))?;
        for obj in objects {
            let ns = obj["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_string();
            let ns = if ty.namespaced { ns } else { String::new() };
            state
                .create(&ty, &ns, obj, false)
                .map_err(|e| anyhow!("cannot create: {e:?}"))?;
        }
        drop(state);
        self.shared.changed.notify_all();
        Ok(())
    }
}
