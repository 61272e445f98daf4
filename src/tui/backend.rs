//! The SQLite store behind the interface: [`CaseStore`] over a
//! [`CaseSession`], so typed interviews are stored exactly as scripted ones.

use std::str::FromStr;

use crate::instrument::Instrument;
use crate::interview::{Interview, ItemPath, Outcome, Update};
use crate::store::session::{self, CaseSession};
use crate::store::{CaseId, Store, StoreError};
use crate::tui::app::{CaseReview, CaseRow, CaseStore, Opened, ReviewDecision};

/// The store of one enumerator for one instrument.
pub struct StoreBackend<'s> {
    pub session: CaseSession<'s>,
}

impl<'s> StoreBackend<'s> {
    pub fn new(
        store: &'s mut Store,
        instrument: &'s Instrument,
        enumerator: &str,
    ) -> StoreBackend<'s> {
        StoreBackend {
            session: CaseSession {
                store,
                instrument,
                enumerator: enumerator.to_string(),
            },
        }
    }
}

fn text(e: StoreError) -> String {
    e.to_string()
}

fn id(case: &str) -> Result<CaseId, String> {
    CaseId::from_str(case).map_err(text)
}

impl CaseStore for StoreBackend<'_> {
    fn list(&mut self) -> Result<Vec<CaseRow>, String> {
        let instrument = &self.session.instrument.id;
        let cases = self.session.store.cases().map_err(text)?;
        let mut reviews = self.session.store.reviews().map_err(text)?;
        Ok(cases
            .into_iter()
            .filter(|c| &c.instrument.id == instrument)
            .map(|c| CaseRow {
                id: c.id.to_string(),
                status: session::from_store_status(c.status),
                outcome: c.outcome.as_ref().map(session::from_store_outcome),
                modified: c.modified_utc.strftime("%Y-%m-%d %H:%M").to_string(),
                review: reviews.remove(&c.id).map(|r| CaseReview {
                    decision: match r.status.as_str() {
                        "approved" => ReviewDecision::Approved,
                        "rejected" => ReviewDecision::Rejected,
                        _ => ReviewDecision::Pending,
                    },
                    comment: r.comment,
                }),
                enumerator: c.enumerator,
            })
            .collect())
    }

    fn create(&mut self) -> Result<String, String> {
        self.session.create().map(|id| id.to_string()).map_err(text)
    }

    fn open(&mut self, case: &str) -> Result<Opened, String> {
        let restored = self.session.open(&id(case)?).map_err(text)?;
        if !restored.unreadable.is_empty() {
            return Err(format!(
                "case {case} has answers at unreadable paths: {}",
                restored.unreadable.join(", ")
            ));
        }
        Ok(Opened {
            saved: restored.saved,
            seed: restored.seed,
            today: restored.today,
        })
    }

    fn commit(
        &mut self,
        case: &str,
        update: &Update,
        _interview: &Interview,
    ) -> Result<(), String> {
        self.session.commit(&id(case)?, update).map_err(text)
    }

    fn set_outcome(&mut self, case: &str, outcome: Outcome) -> Result<(), String> {
        let enumerator = self.session.enumerator.clone();
        self.session
            .store
            .set_outcome(
                &id(case)?,
                &session::to_store_outcome(outcome),
                &enumerator,
                session::now(),
            )
            .map_err(text)
    }

    fn add_note(&mut self, case: &str, path: &ItemPath, text_: &str) -> Result<(), String> {
        let enumerator = self.session.enumerator.clone();
        self.session
            .store
            .add_note(
                &id(case)?,
                Some(&path.to_string()),
                text_,
                &enumerator,
                session::now(),
            )
            .map(|_| ())
            .map_err(text)
    }
}
