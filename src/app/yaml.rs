//! YAML from files people hand us (kas.yaml, RayCluster files), checked
//! before use: aliases may make a small file expand to gigabytes (a "billion
//! laughs" file took 18 s and 4.9 GB as kas.yaml), so every document is first
//! walked with a budget of values, without building anything, and refused
//! once it is spent.

use std::cell::Cell;
use std::fmt;

use anyhow::{Result, bail};
use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess, Visitor};

/// More values than any project or cluster file has (kas.yaml holds about a
/// hundred, a large RayCluster a few thousand).
pub const MAX_VALUES: usize = 100_000;

const SPENT: &str = "the value budget is spent";

/// Refuses `text` when its documents, with aliases expanded, hold more
/// than [`MAX_VALUES`] values. `shown` names the file in the message.
/// Syntax errors are left for the real parse to report.
pub fn check_expansion(text: &str, shown: &str) -> Result<()> {
    let left = Cell::new(MAX_VALUES);
    for doc in serde_yaml::Deserializer::from_str(text) {
        match (Budget(&left)).deserialize(doc) {
            Ok(()) => {}
            Err(e) if e.to_string().contains(SPENT) => bail!(
                "{shown} expands to more than {MAX_VALUES} values (through YAML aliases \
                 such as `*name`): refused; write the values out instead"
            ),
            Err(_) => return Ok(()),
        }
    }
    Ok(())
}

/// Counts values down; visiting builds nothing.
#[derive(Clone, Copy)]
struct Budget<'a>(&'a Cell<usize>);

impl Budget<'_> {
    fn spend<E: de::Error>(self) -> Result<(), E> {
        match self.0.get() {
            0 => Err(E::custom(SPENT)),
            n => {
                self.0.set(n - 1);
                Ok(())
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Budget<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Budget<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.spend()
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.spend()
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.spend()
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.spend()
    }

    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.spend()
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.spend()
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.spend()
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.spend()?;
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.spend()?;
        while seq.next_element_seed(self)?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        self.spend()?;
        while map.next_key_seed(self)?.is_some() {
            map.next_value_seed(self)?;
        }
        Ok(())
    }

    /// A tagged value (`!Tag value`).
    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<(), A::Error> {
        use serde::de::VariantAccess;
        self.spend()?;
        let ((), variant) = data.variant_seed(self)?;
        variant.newtype_variant_seed(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `levels` of ten aliases each: 10^levels strings from a few lines.
    fn laughs(levels: usize) -> String {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for i in 1..=levels {
            let p = i - 1;
            let refs = vec![format!("*a{p}"); 10].join(", ");
            text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        text
    }

    #[test]
    fn an_alias_bomb_is_refused_without_expanding_it() {
        // 10^9 values if expanded.
        let err = check_expansion(&laughs(8), "kas.yaml").unwrap_err();
        assert!(
            err.to_string().contains("kas.yaml expands to more than"),
            "{err}"
        );
    }

    #[test]
    fn ordinary_files_and_modest_aliases_pass() {
        check_expansion(&laughs(3), "x.yaml").unwrap();
        check_expansion("gke:\n  cluster: y\n---\nb: !Tag 1\n", "x.yaml").unwrap();
        // Syntax errors are for the real parse to report.
        check_expansion("a: [\n", "x.yaml").unwrap();
    }
}
