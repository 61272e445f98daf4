//! The expression language shared by relevance, checks, fills, computed
//! variables, estimate specs and domains.
