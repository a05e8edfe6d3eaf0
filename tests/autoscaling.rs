//! Application Auto Scaling of the ECS service on real Docker, driven by the real AWS CLI:
//! - the reference's `register-scalable-target` and `put-scaling-policy` commands as written,
//!   the describe commands, and Application Auto Scaling's errors;
//! - a bounded CPU load through the load balancer (`GET /api/burn`) scales the service out (to
//!   at most 6), and back in to 2 once the load stops, honouring the cooldowns; the activities
//!   are listed by `aws application-autoscaling describe-scaling-activities`.
//!
//! Run with the machine-wide Docker lock:
//! `flock /tmp/tierlab-docker.lock cargo test --locked --test autoscaling -- --nocapture`.

#[path = "lab_support/mod.rs"]
mod lab_support;
#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use lab_support::{DOCKER_LOCK, TestLab, docker, shut_down_clean};
use support::aws::{Aws, SERVICE_ERROR_EXIT};

const RESOURCE: &str = "service/flask-app-cluster/flask-app-service";
const SERVICE: &str = "flask-app-service";

/// `aws application-autoscaling ARGS` with `--endpoint-url` given explicitly (AWS CLI v1 does
/// not read `AWS_ENDPOINT_URL` for every service).
fn aas<'a>(aws: &'a Aws, args: &[&'a str]) -> Vec<&'a str> {
    let mut all = vec![
        "--endpoint-url",
        aws.endpoint.as_str(),
        "application-autoscaling",
    ];
    all.extend_from_slice(args);
    all
}

/// The reference's commands (aws-multi-tier-flask.md, "Auto Scaling for Application Tier").
const REGISTER: &[&str] = &[
    "register-scalable-target",
    "--service-namespace",
    "ecs",
    "--scalable-dimension",
    "ecs:service:DesiredCount",
    "--resource-id",
    RESOURCE,
    "--min-capacity",
    "2",
    "--max-capacity",
    "6",
];

fn put_policy(config: &str) -> Vec<&str> {
    vec![
        "put-scaling-policy",
        "--service-namespace",
        "ecs",
        "--scalable-dimension",
        "ecs:service:DesiredCount",
        "--resource-id",
        RESOURCE,
        "--policy-name",
        "cpu-tracking-scaling-policy",
        "--policy-type",
        "TargetTrackingScaling",
        "--target-tracking-scaling-policy-configuration",
        config,
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_references_commands_and_application_auto_scalings_errors() {
    let _serial = DOCKER_LOCK.lock().await;
    let test = TestLab::new("aasapi");
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);

    // Nothing registered: describe lists nothing, a policy has no target. (This call finds the
    // endpoint by AWS_ENDPOINT_URL alone.)
    let v = aws
        .json(&[
            "application-autoscaling",
            "describe-scalable-targets",
            "--service-namespace",
            "ecs",
        ])
        .await;
    assert_eq!(v["ScalableTargets"], serde_json::json!([]));
    let reference_policy = r#"{"TargetValue": 70.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ECSServiceAverageCPUUtilization"}}"#;
    let e = aws.fails(&aas(&aws, &put_policy(reference_policy))).await;
    assert_eq!(
        (e.exit, e.code.as_str()),
        (SERVICE_ERROR_EXIT, "ObjectNotFoundException")
    );
    assert_eq!(
        e.message,
        format!(
            "No scalable target registered for service namespace: ecs, resource ID: {RESOURCE}, scalable dimension: ecs:service:DesiredCount"
        )
    );

    // The reference's two commands, as written.
    let v = aws.json(&aas(&aws, REGISTER)).await;
    let target_arn = v["ScalableTargetARN"].as_str().unwrap().to_string();
    assert!(
        target_arn
            .starts_with("arn:aws:application-autoscaling:us-east-1:000000000000:scalable-target/"),
        "{v}"
    );
    let v = aws.json(&aas(&aws, &put_policy(reference_policy))).await;
    let policy_arn = v["PolicyARN"].as_str().unwrap().to_string();
    assert!(
        policy_arn.ends_with(&format!(
            ":resource/ecs/{RESOURCE}:policyName/cpu-tracking-scaling-policy"
        )),
        "{v}"
    );
    let alarms: Vec<&str> = v["Alarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    assert_eq!(alarms.len(), 2);
    assert!(
        alarms[0].starts_with(&format!("TargetTracking-{RESOURCE}-AlarmHigh-")),
        "{alarms:?}"
    );
    assert!(
        alarms[1].starts_with(&format!("TargetTracking-{RESOURCE}-AlarmLow-")),
        "{alarms:?}"
    );

    let v = aws
        .json(&aas(
            &aws,
            &[
                "describe-scalable-targets",
                "--service-namespace",
                "ecs",
                "--resource-ids",
                RESOURCE,
            ],
        ))
        .await;
    let t = &v["ScalableTargets"][0];
    assert_eq!(
        (t["MinCapacity"].as_u64(), t["MaxCapacity"].as_u64()),
        (Some(2), Some(6)),
        "{v}"
    );
    assert_eq!(t["ScalableTargetARN"], target_arn.as_str());
    assert_eq!(t["ScalableDimension"], "ecs:service:DesiredCount");
    assert!(t["CreationTime"].as_f64().unwrap() > 1.7e9);
    let v = aws
        .json(&aas(
            &aws,
            &["describe-scaling-policies", "--service-namespace", "ecs"],
        ))
        .await;
    let p = &v["ScalingPolicies"][0];
    assert_eq!(p["PolicyARN"], policy_arn.as_str());
    assert_eq!(p["PolicyType"], "TargetTrackingScaling");
    let tt = &p["TargetTrackingScalingPolicyConfiguration"];
    assert_eq!(tt["TargetValue"].as_f64(), Some(70.0));
    // Not given: Application Auto Scaling's 300 s for ECS.
    assert_eq!(
        (
            tt["ScaleOutCooldown"].as_u64(),
            tt["ScaleInCooldown"].as_u64()
        ),
        (Some(300), Some(300))
    );

    // Errors, each changing nothing.
    let e = aws.fails(&aas(&aws, &put_policy(r#"{"TargetValue": 70.0, "PredefinedMetricSpecification": {"PredefinedMetricType": "ALBRequestCountPerTarget"}}"#))).await;
    assert_eq!(e.code, "ValidationException", "{}", e.stderr);
    let mut bad = REGISTER.to_vec();
    bad[6] = "service/flask-app-cluster/no-such-service";
    let e = aws.fails(&aas(&aws, &bad)).await;
    assert_eq!(e.code, "ValidationException");
    assert!(e.message.contains("no-such-service"), "{}", e.message);
    let mut inverted = REGISTER.to_vec();
    inverted[8] = "7";
    let e = aws.fails(&aas(&aws, &inverted)).await;
    assert_eq!(e.code, "ValidationException");
    let e = aws
        .fails(&aas(
            &aws,
            &[
                "delete-scaling-policy",
                "--service-namespace",
                "ecs",
                "--scalable-dimension",
                "ecs:service:DesiredCount",
                "--resource-id",
                RESOURCE,
                "--policy-name",
                "nope",
            ],
        ))
        .await;
    assert_eq!(e.code, "ObjectNotFoundException");
    let e = aws
        .fails(&aas(
            &aws,
            &["describe-scheduled-actions", "--service-namespace", "ecs"],
        ))
        .await;
    assert!(
        e.message.contains("not supported by tierlab"),
        "{}",
        e.message
    );
    let v = aws
        .json(&aas(
            &aws,
            &["describe-scalable-targets", "--service-namespace", "ecs"],
        ))
        .await;
    assert_eq!(v["ScalableTargets"].as_array().unwrap().len(), 1);
    assert_eq!(v["ScalableTargets"][0]["MaxCapacity"].as_u64(), Some(6));

    // A higher minimum scales the service at once, as a recorded activity.
    let mut three = REGISTER.to_vec();
    three[8] = "3";
    aws.json(&aas(&aws, &three)).await;
    let service = lab.service(SERVICE).unwrap().clone();
    wait_for(
        Duration::from_secs(20),
        "desired count 3 after min-capacity 3",
        || service.desired_count() == 3,
    )
    .await;
    let v = aws
        .json(&aas(
            &aws,
            &[
                "describe-scaling-activities",
                "--service-namespace",
                "ecs",
                "--resource-id",
                RESOURCE,
            ],
        ))
        .await;
    let a = &v["ScalingActivities"][0];
    assert_eq!(a["Description"], "Setting desired count to 3.", "{v:#}");
    assert_eq!(a["Cause"], "minimum capacity was set to 3");
    assert_eq!(
        a["StatusMessage"],
        "Successfully set desired count to 3. Change successfully fulfilled by ecs."
    );
    assert_eq!(a["StatusCode"], "Successful");

    // Deleting the policy, then deregistering the target.
    succeeds_quietly(
        &aws,
        &aas(
            &aws,
            &[
                "delete-scaling-policy",
                "--service-namespace",
                "ecs",
                "--scalable-dimension",
                "ecs:service:DesiredCount",
                "--resource-id",
                RESOURCE,
                "--policy-name",
                "cpu-tracking-scaling-policy",
            ],
        ),
    )
    .await;
    succeeds_quietly(
        &aws,
        &aas(
            &aws,
            &[
                "deregister-scalable-target",
                "--service-namespace",
                "ecs",
                "--scalable-dimension",
                "ecs:service:DesiredCount",
                "--resource-id",
                RESOURCE,
            ],
        ),
    )
    .await;
    let v = aws
        .json(&aas(
            &aws,
            &["describe-scaling-policies", "--service-namespace", "ecs"],
        ))
        .await;
    assert_eq!(v["ScalingPolicies"], serde_json::json!([]));
    let e = aws
        .fails(&aas(
            &aws,
            &[
                "deregister-scalable-target",
                "--service-namespace",
                "ecs",
                "--scalable-dimension",
                "ecs:service:DesiredCount",
                "--resource-id",
                RESOURCE,
            ],
        ))
        .await;
    assert_eq!(e.code, "ObjectNotFoundException");

    shut_down_clean(lab, &docker, &test).await;
}

/// `aws ARGS` that must succeed with an empty answer (the CLI prints nothing for `{}`).
async fn succeeds_quietly(aws: &Aws, args: &[&str]) {
    let out = aws.run(args).await;
    assert_eq!(
        out.exit,
        0,
        "`aws {}` failed:\n{}",
        args.join(" "),
        out.stderr
    );
    assert_eq!(out.stdout.trim(), "", "`aws {}`", args.join(" "));
}

/// Polls `done` every 200 ms until it holds, or fails the test after `within`.
async fn wait_for(within: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < within, "no {what} within {within:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The test's policy: CPU target tracking with cooldowns short enough for a test, and a target
/// of 50 % rather than the reference's 70 % so that the load keeps the alarm firing even when
/// the machine's two cores are busy with other work.
const AUTO_SCALING: &str = r#"
[services.flask-app-service.auto-scaling]
min-capacity = 2
max-capacity = 6
[[services.flask-app-service.auto-scaling.policies]]
name = "cpu-tracking-scaling-policy"
metric = "ECSServiceAverageCPUUtilization"
target-value = 50.0
scale-out-cooldown = "5s"
scale-in-cooldown = "5s"
"#;
const SCALE_OUT_COOLDOWN: Duration = Duration::from_secs(5);
/// Concurrent clients of the load; each request burns 25 ms of CPU time in a task. More clients
/// per task would only queue: a task saturated by many of them answers the load balancer's
/// health check (timeout 1 s) too late, and ECS replaces it as unhealthy.
const CLIENTS: usize = 8;
const TARGET: u32 = 50;
const BURN: &str = "/api/burn?ms=25";
/// Bounds of the phases (the whole test stays within about two minutes).
const SCALE_OUT_WITHIN: Duration = Duration::from_secs(90);
const SCALE_IN_WITHIN: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_load_scales_the_service_out_and_back_in() {
    let _serial = DOCKER_LOCK.lock().await;
    let mut test = TestLab::new("aasload");
    let lb_line = "load-balancer = { target-group = \"flask-app-tg\", container-name = \"flask-app\", container-port = 8000 }\n";
    assert!(test.config_text.contains(lb_line));
    test.config_text = test
        .config_text
        .replacen(lb_line, &format!("{lb_line}{AUTO_SCALING}"), 1);
    let docker = docker().await;
    let lab = test.start().await;
    let aws = Aws::for_lab(&lab);
    let service = lab.service(SERVICE).unwrap().clone();
    let url = format!("{}{BURN}", lab.https_url().unwrap());
    let client = lab_support::client(&lab);
    assert_eq!(service.desired_count(), 2);

    // Load: CLIENTS loops through the load balancer until told to stop (bounded by the phase).
    let stop = tokio_util::sync::CancellationToken::new();
    let load_started = Instant::now();
    let loops: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (client, url, stop) = (client.clone(), url.clone(), stop.clone());
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u32, BTreeMap::<String, u32>::new());
                while !stop.is_cancelled() {
                    match stop.run_until_cancelled(client.get(&url).send()).await {
                        Some(Ok(r)) if r.status().is_success() => ok += 1,
                        Some(Ok(r)) => *failed.entry(r.status().to_string()).or_default() += 1,
                        Some(Err(e)) => *failed.entry(format!("{e}")).or_default() += 1,
                        None => break,
                    }
                }
                (ok, failed)
            })
        })
        .collect();

    // Out: to 6 (never more), each task healthy; the time from the load step is the measure.
    let mut most = 2;
    let mut hot_cpu: f64 = 0.0;
    loop {
        let status = service.status();
        most = most.max(status.desired_count);
        assert!(
            status.desired_count <= 6,
            "desired count {} > max 6",
            status.desired_count
        );
        let lab_status = lab.status();
        if let Some(m) = lab_status
            .autoscaling
            .metrics
            .iter()
            .find(|m| m.service == SERVICE)
        {
            hot_cpu = hot_cpu.max(m.cpu_utilization.unwrap_or(0.0));
        }
        if status.desired_count == 6 && status.is_steady() {
            break;
        }
        assert!(
            load_started.elapsed() < SCALE_OUT_WITHIN,
            "not scaled out to 6 healthy tasks within {SCALE_OUT_WITHIN:?}: desired {}, running {}, CPU seen up to {hot_cpu:.0} %\n{:#?}",
            status.desired_count,
            status.running_count,
            lab_status.autoscaling
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let scaled_out = load_started.elapsed();
    let metrics_text = lab.view().metrics_text();
    assert!(
        metrics_text.contains(
            "CPUUtilization{ClusterName=\"flask-app-cluster\",ServiceName=\"flask-app-service\"}"
        ),
        "{metrics_text}"
    );
    stop.cancel();
    let load_stopped = Instant::now();
    let (mut ok, mut failed) = (0, BTreeMap::<String, u32>::new());
    for l in loops {
        let (o, f) = l.await.unwrap();
        ok += o;
        for (why, n) in f {
            *failed.entry(why).or_default() += n;
        }
    }
    println!(
        "load step ({CLIENTS} clients, GET {BURN}) to 6 healthy tasks: {:.1}s; CPU up to {hot_cpu:.0} %; {ok} requests answered, failed: {failed:?}",
        scaled_out.as_secs_f64()
    );
    assert!(
        hot_cpu > f64::from(TARGET),
        "the load never took CPU above the target: {hot_cpu:.0} %"
    );
    assert_eq!(most, 6);

    // In: after 15 datapoints below 90 % of the target, back to the minimum, 2.
    loop {
        let status = service.status();
        if status.desired_count == 2 && status.is_steady() {
            break;
        }
        assert!(
            load_stopped.elapsed() < SCALE_IN_WITHIN,
            "not back to 2 within {SCALE_IN_WITHIN:?} of the load's end: desired {}, running {}\n{:#?}",
            status.desired_count,
            status.running_count,
            lab.status().autoscaling
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    println!(
        "load stopped to 2 tasks again: {:.1}s",
        load_stopped.elapsed().as_secs_f64()
    );

    // The activities as the CLI lists them, newest first.
    let v = aws
        .json(&aas(
            &aws,
            &[
                "describe-scaling-activities",
                "--service-namespace",
                "ecs",
                "--resource-id",
                RESOURCE,
            ],
        ))
        .await;
    let activities = v["ScalingActivities"].as_array().unwrap();
    for a in activities.iter().rev() {
        println!(
            "  {} | {} | {}",
            a["StartTime"],
            a["Description"].as_str().unwrap(),
            a["Cause"].as_str().unwrap()
        );
    }
    let newest = &activities[0];
    assert_eq!(newest["Description"], "Setting desired count to 2.");
    assert_eq!(
        newest["StatusMessage"],
        "Successfully set desired count to 2. Change successfully fulfilled by ecs."
    );
    assert!(
        newest["Cause"].as_str().unwrap().contains("-AlarmLow-"),
        "{newest}"
    );
    let outs: Vec<&serde_json::Value> = activities
        .iter()
        .rev()
        .filter(|a| a["Cause"].as_str().unwrap().contains("-AlarmHigh-"))
        .collect();
    assert!(!outs.is_empty(), "{v:#}");
    assert!(outs.iter().all(|a| {
        a["Cause"]
            .as_str()
            .unwrap()
            .ends_with("triggered policy cpu-tracking-scaling-policy")
    }));
    // Scale-out cooldowns: a scale-out within one is computed from the count the cooldown
    // started from (and is larger than the previous), never from the count reached meanwhile.
    let count = |a: &serde_json::Value| -> u32 {
        let d = a["Description"].as_str().unwrap();
        d.trim_start_matches("Setting desired count to ")
            .trim_end_matches('.')
            .parse()
            .unwrap()
    };
    let (mut base, mut previous, mut cooldown_end) = (2, 2, f64::MIN);
    for a in &outs {
        let (at, to) = (a["StartTime"].as_f64().unwrap(), count(a));
        assert!(to > previous, "{v:#}");
        if at < cooldown_end {
            let most = (f64::from(base) * hot_cpu / f64::from(TARGET)).ceil() as u32;
            assert!(
                to <= most,
                "a scale-out to {to} within the cooldown; from {base} at most {most} (CPU up to {hot_cpu:.0} %): {v:#}"
            );
        } else {
            base = previous;
        }
        cooldown_end = at + SCALE_OUT_COOLDOWN.as_secs_f64();
        previous = to;
    }
    // The scale-in came after 15 one-second datapoints below the low threshold at the least.
    let scale_in_at = newest["StartTime"].as_f64().unwrap();
    let last_out_at = outs.last().unwrap()["StartTime"].as_f64().unwrap();
    assert!(scale_in_at - last_out_at >= 15.0, "{v:#}");

    shut_down_clean(lab, &docker, &test).await;
}
