//! 1EdTech's JSON Schema.
