//! Skill functions for rules: `skill_level(actor_id, skill)` (the person's estimate of one
//! skill, decayed to the evaluation's time, or `()` without evidence) and
//! `skill_gaps(actor_id)` (each skill their role requires above their level). Answered by
//! the host from the skills map, within the run's limits like every host call. To record
//! evidence from a rule, emit a statement whose activity lists the skills
//! (docs/skills.md, "Evidence"); skill events arrive as statements rules trigger on.

use rhai::{Dynamic, Engine, NativeCallContext};

use super::functions::{error, host_call};

type RhaiResult<T> = Result<T, Box<rhai::EvalAltResult>>;

pub(crate) fn register(engine: &mut Engine) {
    engine.register_fn("skill_level", |ctx: NativeCallContext, person: &str, skill: &str| -> RhaiResult<Dynamic> {
        let found = host_call(&ctx, |e| e.host.skill_estimate(person, skill, e.now))?;
        match found {
            Some(estimate) => rhai::serde::to_dynamic(estimate).map_err(|e| error(&ctx, format!("skill_level: {e}"))),
            None => Ok(Dynamic::UNIT),
        }
    });
    engine.register_fn("skill_gaps", |ctx: NativeCallContext, person: &str| -> RhaiResult<Dynamic> {
        let gaps = host_call(&ctx, |e| e.host.skill_gaps(person, e.now))?;
        rhai::serde::to_dynamic(gaps).map_err(|e| error(&ctx, format!("skill_gaps: {e}")))
    });
}
