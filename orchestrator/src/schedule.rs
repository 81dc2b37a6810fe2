//! Cron schedules of deployed pipelines.
//!
//! A schedule is a cron expression (5 fields, or 6 with seconds first) in a time zone.
//! Its next tick is stored; a loop wakes at least every second, and for each schedule
//! whose tick has come queues one run whose trigger key names the schedule and the tick.
//! The database refuses a second run with that key, so one tick never runs twice, also
//! across restarts. A tick missed while the orchestrator was down runs once at start-up,
//! or is skipped when the pipeline says `catch_up: false`.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use croner::Cron;
use croner::parser::{CronParser, Seconds};

use crate::api::runs::pipeline_run;
use crate::db::{DbError, now_ms, pipelines};
use crate::state::Orchestrator;

/// A parsed schedule.
#[derive(Debug)]
pub struct Schedule {
    cron: Cron,
    zone: chrono_tz::Tz,
}

impl Schedule {
    /// Parses `expression` in time zone `zone` (an IANA name such as `Europe/Berlin`);
    /// the message says what is wrong.
    pub fn parse(expression: &str, zone: &str) -> Result<Schedule, String> {
        let cron = CronParser::builder()
            .seconds(Seconds::Optional)
            .build()
            .parse(expression)
            .map_err(|e| format!("`{expression}` is not a cron expression: {e}"))?;
        let zone = chrono_tz::Tz::from_str(zone)
            .map_err(|_| format!("`{zone}` is not a time zone: use an IANA name such as UTC or Europe/Berlin"))?;
        Ok(Schedule { cron, zone })
    }

    /// The first tick after `after_ms` (milliseconds since the epoch).
    pub fn next_after(&self, after_ms: i64) -> Option<i64> {
        let after = DateTime::<Utc>::from_timestamp_millis(after_ms)?.with_timezone(&self.zone);
        let next = self.cron.find_next_occurrence(&after, false).ok()?;
        Some(next.with_timezone(&Utc).timestamp_millis())
    }
}

/// Queues the runs of due schedules, forever.
pub async fn run(orchestrator: Arc<Orchestrator>) {
    loop {
        if let Err(error) = fire_due(&orchestrator).await {
            tracing::error!(%error, "the schedules failed; trying again");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

async fn fire_due(orchestrator: &Arc<Orchestrator>) -> Result<(), DbError> {
    let now = now_ms();
    for due in pipelines::due_schedules(&orchestrator.db, now).await? {
        let schedule = match Schedule::parse(&due.cron, &due.timezone) {
            Ok(schedule) => schedule,
            Err(message) => {
                tracing::error!(pipeline = %due.pipeline, %message, "a stored schedule does not parse; it is dropped");
                pipelines::move_schedule(&orchestrator.db, due.id, due.next_fire_ms, None).await?;
                continue;
            }
        };
        let next = schedule.next_after(now);
        // Came due before this orchestrator started: it was down then.
        let missed = due.next_fire_ms < orchestrator.started_ms;
        if missed && !due.catch_up {
            tracing::info!(pipeline = %due.pipeline, tick_ms = due.next_fire_ms, "skipped a missed tick (catch_up: false)");
        } else {
            // Named by the expression, not the row: a redeploy that keeps the schedule
            // cannot queue its tick again.
            let key = format!("schedule:{}|{}@{}", due.cron, due.timezone, due.next_fire_ms);
            match pipeline_run(orchestrator, &due.pipeline, Default::default(), "schedule", Some(key)).await {
                Ok(new_run) => {
                    if let Some(run) = orchestrator.events.queue(&orchestrator.db, &new_run).await? {
                        tracing::info!(run_id = %run.id, pipeline = %due.pipeline, tick_ms = due.next_fire_ms, missed, "scheduled run");
                        orchestrator.wake.notify_one();
                    }
                }
                Err(failure) => {
                    tracing::warn!(pipeline = %due.pipeline, message = %failure.message, "a schedule's pipeline cannot run")
                }
            }
        }
        // Only from the tick it was seen at: a second loop never moves it twice.
        pipelines::move_schedule(&orchestrator.db, due.id, due.next_fire_ms, next).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        DateTime::parse_from_rfc3339(text).unwrap().timestamp_millis()
    }

    #[test]
    fn ticks_follow_the_time_zone_across_a_daylight_saving_change() {
        // 02:30 every day in Berlin: on 2025-03-30 clocks jump from 02:00 to 03:00.
        let schedule = Schedule::parse("30 2 * * *", "Europe/Berlin").unwrap();
        let before = schedule.next_after(ms("2025-03-28T12:00:00Z")).unwrap();
        assert_eq!(before, ms("2025-03-29T01:30:00Z"), "02:30 CET is 01:30 UTC");
        let after = schedule.next_after(ms("2025-03-31T00:00:00Z")).unwrap();
        assert_eq!(after, ms("2025-03-31T00:30:00Z"), "02:30 CEST is 00:30 UTC");
        // Seconds when six fields are given.
        let every_second = Schedule::parse("* * * * * *", "UTC").unwrap();
        assert_eq!(every_second.next_after(ms("2025-01-01T00:00:00Z")), Some(ms("2025-01-01T00:00:01Z")));
        assert!(Schedule::parse("61 * * * *", "UTC").unwrap_err().contains("is not a cron expression"));
        assert!(Schedule::parse("* * * * *", "Mars/Olympus").unwrap_err().contains("is not a time zone"));
    }
}
