//! Carrying out a records call: plan it (`records_plan`), read the apex NS records first when
//! the plan needs them, send its UPDATEs in order (`Zones::apply_update`), and say what a
//! refusal means. A SERVFAIL on an add is checked against named's `max-records-per-type`: an
//! RRset already at the limit is a 409 that says so (a retry would fail the same way), not a
//! "retry" 502.

use super::records_plan::{plan, Planned, RecordCall, RecordPlan};
use super::records_update::RecordError;
use super::service::Zones;
use crate::bind::update::DnsChannel;
use crate::bind::ZoneName;

impl Zones {
    /// Carries out `call` on `zone`: the number of records the RRset holds after (a replace's
    /// distinct values), or why nothing was changed.
    pub async fn change_records(
        &self,
        dns: &dyn DnsChannel,
        zone: &ZoneName,
        call: &RecordCall,
        operation: &'static str,
        actor: &str,
    ) -> Result<usize, RecordError> {
        let limit = self.max_records_per_type;
        let planned = match plan(zone, call, limit, None)? {
            Planned::Ready(p) => p,
            Planned::NeedsApexNs => {
                let current = self.apex_ns(dns, zone).await?;
                match plan(zone, call, limit, Some(&current))? {
                    Planned::Ready(p) => p,
                    Planned::NeedsApexNs => {
                        return Err(RecordError::Invalid("apex NS records not read".into()))
                    }
                }
            }
        };
        self.send_plan(dns, &planned, operation, actor).await?;
        Ok(planned.holds)
    }

    async fn send_plan(
        &self,
        dns: &dyn DnsChannel,
        planned: &RecordPlan,
        operation: &'static str,
        actor: &str,
    ) -> Result<(), RecordError> {
        let mut steps = planned.steps.iter().peekable();
        while let Some(update) = steps.next() {
            match self.apply_update(dns, update, operation, actor).await {
                Ok(()) => return Ok(()),
                Err(RecordError::Conflict { rcode })
                    if rcode == "YXDOMAIN" && steps.peek().is_some() =>
                {
                    continue
                }
                Err(RecordError::Conflict { rcode }) if planned.clash.is_some() => {
                    return Err(RecordError::Clash {
                        message: planned.clash.clone().unwrap_or_default(),
                        rcode: Some(rcode),
                    })
                }
                Err(RecordError::ServerFailure { rcode }) => {
                    return Err(self.at_the_limit(dns, update, planned, rcode).await)
                }
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Why an add got SERVFAIL: its RRset at named's limit (a 409 with the count named holds),
    /// else the SERVFAIL as it came.
    async fn at_the_limit(
        &self,
        dns: &dyn DnsChannel,
        update: &crate::bind::update::Update,
        planned: &RecordPlan,
        rcode: String,
    ) -> RecordError {
        let servfail = RecordError::ServerFailure {
            rcode: rcode.clone(),
        };
        let (Some((owner, rtype)), limit) = (&planned.grows, self.max_records_per_type) else {
            return servfail;
        };
        if limit == 0 {
            return servfail;
        }
        let Ok(records) = dns.transfer(&update.zone).await else {
            return servfail;
        };
        let held = records
            .iter()
            .filter(|r| r.name.eq_ignore_ascii_case(owner) && r.rtype == *rtype)
            .count();
        if held < limit {
            return servfail;
        }
        RecordError::Clash {
            message: format!(
                "{owner} already holds {held} {rtype} records, the most named keeps at one name \
                 (max-records-per-type {limit}): nothing was added. Delete some first"
            ),
            rcode: Some(rcode),
        }
    }

    /// The zone's apex NS values as named serves them (a zone transfer).
    async fn apex_ns(
        &self,
        dns: &dyn DnsChannel,
        zone: &ZoneName,
    ) -> Result<Vec<String>, RecordError> {
        let records = self.zone_records(dns, zone, Some("@"), Some("NS")).await?;
        Ok(records.records.into_iter().map(|r| r.value).collect())
    }
}
