//! `tierlab db failover [ID]`: the call the AWS CLI makes (`rds reboot-db-instance
//! --force-failover`), signed with the lab's credentials and sent to its AWS API, then the
//! instance followed until it is available again, in the other availability zone.

use std::time::{Duration, Instant};

use crate::api::rds::client::{RdsClient, element};
use crate::config::Config;
use crate::error::Error;

/// How long to follow the instance after the failover started.
const FOLLOW_FOR: Duration = Duration::from_secs(180);

pub async fn run(config: &Config, identifier: &str) -> Result<(), Error> {
    let (aws, credentials) = super::running::aws_access(config).await?;
    let client = RdsClient::new(&aws.endpoint_url, &aws.region, credentials)?;
    let describe = [("DBInstanceIdentifier", identifier)];
    let before = client.call("DescribeDBInstances", &describe).await?;
    let zone_before = element(&before, "AvailabilityZone")
        .unwrap_or("-")
        .to_string();
    let started = Instant::now();
    let answer = client
        .call(
            "RebootDBInstance",
            &[
                ("DBInstanceIdentifier", identifier),
                ("ForceFailover", "true"),
            ],
        )
        .await?;
    println!(
        "database {identifier}: {} (failover from {zone_before} started)",
        element(&answer, "DBInstanceStatus").unwrap_or("-")
    );
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let now = client.call("DescribeDBInstances", &describe).await?;
        let zone = element(&now, "AvailabilityZone").unwrap_or("-");
        if element(&now, "DBInstanceStatus") == Some("available") && zone != zone_before {
            println!(
                "database {identifier}: available in {zone} after {:.1}s; the standby is rebuilt in {zone_before} (`tierlab status` shows it)",
                started.elapsed().as_secs_f64()
            );
            return Ok(());
        }
        if started.elapsed() > FOLLOW_FOR {
            return Err(Error::Usage(format!(
                "database {identifier}: not available in the other AZ after {FOLLOW_FOR:?}; see `tierlab events`"
            )));
        }
    }
}
