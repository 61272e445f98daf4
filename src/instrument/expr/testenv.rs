//! Environments for tests: a table of items and one level of rosters that
//! implements both [`TypeEnv`] and [`Env`], and the environment that the
//! examples in `docs/instrument-language.md` are evaluated against.

use std::collections::BTreeMap;

use jiff::civil::{Date, date};

use super::eval::{Env, Missing, Value};
use super::types::{Lookup, Type, TypeEnv};

/// One roster: its items' types and the values of each row.
#[derive(Clone, Debug, Default)]
pub struct Roster {
    pub types: BTreeMap<String, Type>,
    pub rows: Vec<BTreeMap<String, Value>>,
}

/// Items with types and values at the top level, plus rosters.
#[derive(Clone, Debug)]
pub struct TestEnv {
    pub items: BTreeMap<String, (Type, Value)>,
    pub rosters: BTreeMap<String, Roster>,
    pub today: Date,
}

impl Default for TestEnv {
    fn default() -> TestEnv {
        TestEnv {
            items: BTreeMap::new(),
            rosters: BTreeMap::new(),
            today: date(2025, 3, 15),
        }
    }
}

impl TestEnv {
    /// Sets `name` to `value`, with the type the value suggests.
    pub fn set(&mut self, name: &str, value: Value) {
        let ty = match &value {
            Value::Bool(_) => Type::Bool,
            Value::Decimal(_) => Type::Decimal,
            Value::Text(_) => Type::Text,
            Value::Date(_) => Type::Date,
            Value::Codes(_) => Type::Codes,
            Value::Int(_) | Value::Missing(_) => Type::Int,
        };
        self.set_typed(name, ty, value);
    }

    pub fn set_typed(&mut self, name: &str, ty: Type, value: Value) {
        self.items.insert(name.to_string(), (ty, value));
    }

    /// Adds a roster whose items are `columns` (name, type, one value per row).
    pub fn roster(&mut self, name: &str, rows: usize, columns: &[(&str, Type, Vec<Value>)]) {
        let mut roster = Roster {
            types: BTreeMap::new(),
            rows: vec![BTreeMap::new(); rows],
        };
        for (col, ty, values) in columns {
            roster.types.insert(col.to_string(), *ty);
            for (row, v) in roster.rows.iter_mut().zip(values) {
                row.insert(col.to_string(), v.clone());
            }
        }
        self.rosters.insert(name.to_string(), roster);
    }

    fn outer_lookup(&self, name: &str) -> Lookup {
        if let Some((ty, _)) = self.items.get(name) {
            return Lookup::Value(*ty);
        }
        if self.rosters.contains_key(name) {
            return Lookup::Roster;
        }
        match self
            .rosters
            .iter()
            .find(|(_, r)| r.types.contains_key(name))
        {
            Some((roster, _)) => Lookup::OutOfScope {
                roster: roster.clone(),
            },
            None => Lookup::NotFound,
        }
    }
}

impl TypeEnv for TestEnv {
    fn lookup(&self, name: &str) -> Lookup {
        self.outer_lookup(name)
    }

    fn enter_roster(&self, roster: &str) -> Option<Box<dyn TypeEnv + '_>> {
        let r = self.rosters.get(roster)?;
        Some(Box::new(RowTypes {
            roster: r,
            outer: self,
        }))
    }

    fn names(&self) -> Vec<String> {
        self.items
            .keys()
            .chain(self.rosters.keys())
            .cloned()
            .collect()
    }
}

struct RowTypes<'a> {
    roster: &'a Roster,
    outer: &'a TestEnv,
}

impl TypeEnv for RowTypes<'_> {
    fn lookup(&self, name: &str) -> Lookup {
        match self.roster.types.get(name) {
            Some(ty) => Lookup::Value(*ty),
            None => self.outer.outer_lookup(name),
        }
    }

    fn enter_roster(&self, roster: &str) -> Option<Box<dyn TypeEnv + '_>> {
        self.outer.enter_roster(roster)
    }

    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.roster.types.keys().cloned().collect();
        names.extend(self.outer.names());
        names
    }
}

impl Env for TestEnv {
    fn value(&self, name: &str) -> Value {
        self.items
            .get(name)
            .map_or(Value::Missing(Missing::NotAsked), |(_, v)| v.clone())
    }

    fn rows(&self, roster: &str) -> usize {
        self.rosters.get(roster).map_or(0, |r| r.rows.len())
    }

    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_> {
        let values = self.rosters.get(roster).and_then(|r| r.rows.get(index));
        Box::new(RowEnv {
            values,
            outer: self,
        })
    }

    fn today(&self) -> Date {
        self.today
    }
}

struct RowEnv<'a> {
    values: Option<&'a BTreeMap<String, Value>>,
    outer: &'a TestEnv,
}

impl Env for RowEnv<'_> {
    fn value(&self, name: &str) -> Value {
        match self.values.and_then(|v| v.get(name)) {
            Some(v) => v.clone(),
            None => self.outer.value(name),
        }
    }

    fn rows(&self, roster: &str) -> usize {
        self.outer.rows(roster)
    }

    fn row(&self, roster: &str, index: usize) -> Box<dyn Env + '_> {
        self.outer.row(roster, index)
    }

    fn today(&self) -> Date {
        self.outer.today
    }
}

/// The environment of the examples in `docs/instrument-language.md`; the
/// document lists the same items and values.
pub fn doc_env() -> TestEnv {
    use Value::*;
    let dk = Missing(self::Missing::DontKnow);
    let mut env = TestEnv::default();
    env.set_typed("resp_age", Type::Int, Int(34));
    env.set_typed("sex", Type::Code, Int(2));
    env.set_typed("birth_date", Type::Date, Date(date(1990, 6, 1)));
    env.set_typed("income", Type::Decimal, Decimal(1250.5));
    env.set_typed("name", Type::Text, Text("Ana".into()));
    env.set_typed("victim", Type::Bool, Bool(true));
    env.set_typed("reported", Type::Code, dk.clone());
    env.set_typed("times_victim", Type::Int, dk.clone());
    env.set_typed("bribe_asked", Type::Code, Missing(self::Missing::Refused));
    env.set_typed("contact", Type::Code, Missing(self::Missing::Skipped));
    env.set_typed("weapons", Type::Codes, Codes(vec![1, 3]));
    env.set_typed("incident_date", Type::Date, Date(date(2024, 11, 20)));
    env.roster(
        "members",
        3,
        &[
            ("member_age", Type::Int, vec![Int(40), Int(12), dk]),
            ("member_sex", Type::Code, vec![Int(1), Int(2), Int(2)]),
        ],
    );
    let skipped = Missing(self::Missing::Skipped);
    let not_asked = Missing(self::Missing::NotAsked);
    env.roster(
        "incidents",
        2,
        &[
            (
                "incident_cost",
                Type::Decimal,
                vec![Decimal(100.5), skipped],
            ),
            (
                "incident_note_len",
                Type::Int,
                vec![not_asked.clone(), not_asked],
            ),
        ],
    );
    env.roster("vehicles", 0, &[("vehicle_value", Type::Int, vec![])]);
    env
}
