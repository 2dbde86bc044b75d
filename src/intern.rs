//! One shared copy of each string and actor of an inventory's dependency
//! rows: the same statement text, `via`, fingerprint, reason, file name and
//! actor recur in many rows, and each row holds a reference to the copy.

use std::sync::Arc;

use rustc_hash::FxHashSet;

use crate::inventory::{Actor, DepKey, DepStats};

/// The shared copies of one inventory (a cache: it holds nothing the rows
/// do not, so two inventories with the same rows are equal whatever their
/// interners hold).
#[derive(Clone, Default)]
pub struct Interner {
    strings: FxHashSet<Arc<str>>,
    actors: FxHashSet<Arc<Actor>>,
}

/// Makes `v` the copy of its value kept in `set` (kept there first when
/// it is new).
fn share<T: ?Sized + Eq + std::hash::Hash>(set: &mut FxHashSet<Arc<T>>, v: &mut Arc<T>) {
    match set.get(&**v) {
        Some(shared) => {
            if !Arc::ptr_eq(shared, v) {
                *v = Arc::clone(shared);
            }
        }
        None => {
            set.insert(Arc::clone(v));
        }
    }
}

impl Interner {
    /// Makes `s` the shared copy of its text.
    fn share_str(&mut self, s: &mut Arc<str>) {
        share(&mut self.strings, s);
    }

    /// Makes `a` the shared copy of its actor.
    fn share_actor(&mut self, a: &mut Arc<Actor>) {
        share(&mut self.actors, a);
    }

    /// Shares the strings and the actor of a row's key.
    pub fn key(&mut self, k: &mut DepKey) {
        self.share_str(&mut k.via);
        self.share_str(&mut k.fingerprint);
        self.share_actor(&mut k.actor);
    }

    /// Shares the strings of a row's evidence.
    pub fn stats(&mut self, s: &mut DepStats) {
        self.share_str(&mut s.query);
        if let Some(r) = &mut s.reason {
            self.share_str(r);
        }
        for source in &mut s.sources {
            self.share_str(&mut source.file);
        }
    }
}

impl PartialEq for Interner {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl Eq for Interner {}

impl std::fmt::Debug for Interner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Interner")
            .field("strings", &self.strings.len())
            .field("actors", &self.actors.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::{Access, Confidence, SourceRef};

    fn row(client: &str, query: &str) -> (DepKey, DepStats) {
        let key = DepKey {
            target: 0,
            access: Access::Read,
            via: "direct".into(),
            actor: Arc::new(Actor {
                user: Some("app".into()),
                client: Some(client.into()),
                ..Actor::default()
            }),
            fingerprint: "f1".into(),
        };
        let stats = DepStats {
            confidence: Confidence::Certain,
            reason: None,
            calls: 1,
            failed_calls: 0,
            nested_calls: 0,
            first_seen: None,
            last_seen: None,
            query: query.into(),
            sources: vec![SourceRef {
                file: "a.log".into(),
                line: 1,
            }],
        };
        (key, stats)
    }

    #[test]
    fn rows_with_the_same_texts_share_one_copy_of_each() {
        let mut i = Interner::default();
        let (mut k1, mut s1) = row("10.0.0.1", "select $1");
        let (mut k2, mut s2) = row("10.0.0.2", "select $1");
        let (mut k3, _) = row("10.0.0.1", "select $2");
        for (k, s) in [(&mut k1, &mut s1), (&mut k2, &mut s2)] {
            i.key(k);
            i.stats(s);
        }
        i.key(&mut k3);
        assert!(Arc::ptr_eq(&k1.via, &k2.via));
        assert!(Arc::ptr_eq(&k1.fingerprint, &k2.fingerprint));
        assert!(Arc::ptr_eq(&s1.query, &s2.query));
        assert!(Arc::ptr_eq(&s1.sources[0].file, &s2.sources[0].file));
        assert!(Arc::ptr_eq(&k1.actor, &k3.actor));
        assert!(!Arc::ptr_eq(&k1.actor, &k2.actor));
        assert_eq!(k1.actor.client.as_deref(), Some("10.0.0.1"));
        assert_eq!(k2.actor.client.as_deref(), Some("10.0.0.2"));
        assert_eq!((i.strings.len(), i.actors.len()), (4, 2));
    }
}
