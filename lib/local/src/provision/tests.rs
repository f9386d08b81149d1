use super::props::Props;
use super::secret::generate_secret;
use super::*;

fn template(yaml: &str) -> Template {
    Template::parse(yaml).expect("template parses")
}

/// (logical id, type, `!Ref` value, attributes)
type Fixture<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

fn provisioned(resources: &[Fixture<'_>]) -> Provisioned {
    Provisioned {
        prefix: "p1".into(),
        region: "eu-central-1".into(),
        account_id: Some("123456789012".into()),
        resources: resources
            .iter()
            .map(|(id, kind, reference, attrs)| {
                let attributes = attrs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect();
                (
                    (*id).to_owned(),
                    ProvisionedResource {
                        kind: (*kind).to_owned(),
                        reference: (*reference).to_owned(),
                        attributes,
                    },
                )
            })
            .collect(),
        parameters: BTreeMap::from([("Zone".to_owned(), "Europe/Moscow".to_owned())]),
    }
}

#[test]
fn dead_letter_queues_are_created_before_the_queues_that_use_them() {
    let t = template(concat!(
        "Resources:\n",
        "  A:\n    Type: AWS::SQS::Queue\n    Properties:\n",
        "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Z.Arn, maxReceiveCount: 5}\n",
        "  Z:\n    Type: AWS::SQS::Queue\n    Properties:\n",
        "      RedrivePolicy: {deadLetterTargetArn: !GetAtt Y.Arn, maxReceiveCount: 5}\n",
        "  Y:\n    Type: AWS::SQS::Queue\n",
        "  F:\n    Type: AWS::Serverless::Function\n",
    ));
    assert_eq!(creation_order(&t).expect("no cycle"), ["Y", "Z", "A"]);
}

#[test]
fn a_reference_cycle_is_reported() {
    let t = template(concat!(
        "Resources:\n",
        "  A:\n    Type: AWS::SQS::Queue\n    Properties: {X: !Ref B}\n",
        "  B:\n    Type: AWS::SQS::Queue\n    Properties: {X: !Ref A}\n",
    ));
    let err = creation_order(&t).expect_err("cycle");
    assert!(err.to_string().contains("A, B"), "{err}");
}

#[test]
fn function_env_merges_globals_with_the_functions_own_variables() {
    let t = template(concat!(
        "Globals:\n  Function:\n    Environment:\n      Variables:\n",
        "        TABLE: !Ref T\n        LEVEL: info\n        PORT: 8080\n        OWN: !Ref Missing\n",
        "        ZONE: !Ref Zone\n",
        "Parameters:\n  Zone:\n    Type: String\n    Default: Europe/Moscow\n",
        "Resources:\n",
        "  T:\n    Type: AWS::DynamoDB::Table\n",
        "  Q:\n    Type: AWS::SQS::Queue\n",
        "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n",
        "      Environment:\n        Variables:\n",
        "          LEVEL: debug\n          QUEUE_ARN: !GetAtt Q.Arn\n          OWN: mine\n",
        "          WHERE: !Sub \"${AWS::Region}/${T}/${Q.QueueName}/${!x}\"\n",
    ));
    let p = provisioned(&[
        ("T", TABLE, "p1-T", &[("Arn", "arn:t")]),
        (
            "Q",
            QUEUE,
            "http://q",
            &[("Arn", "arn:q"), ("QueueName", "p1-Q")],
        ),
    ]);
    assert_eq!(t.parameters["Zone"], "Europe/Moscow");
    let env = p.function_env(&t, "F").expect("resolves");
    let expected: BTreeMap<String, String> = [
        ("LEVEL", "debug"),
        ("OWN", "mine"),
        ("PORT", "8080"),
        ("QUEUE_ARN", "arn:q"),
        ("TABLE", "p1-T"),
        ("WHERE", "eu-central-1/p1-T/p1-Q/${x}"),
        ("ZONE", "Europe/Moscow"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    assert_eq!(env, expected);
}

#[test]
fn function_env_names_what_cannot_be_resolved() {
    let t = template(concat!(
        "Resources:\n",
        "  Api:\n    Type: AWS::Serverless::HttpApi\n",
        "  F:\n    Type: AWS::Serverless::Function\n    Properties:\n",
        "      Environment:\n        Variables:\n          API: !Ref Api\n",
        "  G:\n    Type: AWS::Serverless::Function\n    Properties:\n",
        "      Environment:\n        Variables:\n          J: !Join [\"\", [a]]\n",
    ));
    let p = provisioned(&[]);
    let err = format!(
        "{:#}",
        p.function_env(&t, "F")
            .expect_err("HttpApi is not provisioned")
    );
    assert!(
        err.contains("API") && err.contains("`Api` was not provisioned"),
        "{err}"
    );
    let err = format!(
        "{:#}",
        p.function_env(&t, "G").expect_err("Join is unsupported")
    );
    assert!(
        err.contains("Fn::Join") && err.contains("Resources.G.Properties"),
        "{err}"
    );
    assert!(p.function_env(&t, "Api").is_err());
}

#[test]
fn the_project_template_lists_its_functions_and_routes() {
    let t = Template::load_project(&crate::tools::project_root()).expect("parses");
    let functions = functions(&t);
    assert!(functions.contains(&("AccountsApiFunction".into(), "accounts-api".into())));
    assert!(functions.contains(&("CatalogApiFunction".into(), "catalog-api".into())));
    let routes = http_routes(&t);
    assert!(routes.contains(&("AccountsApiFunction".into(), "ANY".into(), "/v1/me".into())));
    assert!(routes.contains(&(
        "CatalogApiFunction".into(),
        "ANY".into(),
        "/v1/openapi.json".into()
    )));
}

#[test]
fn bucket_names_are_lowercase_and_fit_s3s_limit() {
    assert_eq!(
        bucket_name("t1a2b3c4d", "DocumentsBucket"),
        "t1a2b3c4d-documentsbucket"
    );
    let long = bucket_name("prefix", &"VeryLongLogicalId".repeat(5));
    assert!(
        long.len() <= 63 && long == long.to_ascii_lowercase(),
        "{long}"
    );
    assert_ne!(long, bucket_name("prefix", &"VeryLongLogicalIdX".repeat(5)));
}

#[test]
fn prefixes_are_checked_and_random_ones_are_valid() {
    let p = random_prefix("t");
    assert!(p.len() == 9 && p.starts_with('t'), "{p}");
    validate_prefix(&p).expect("valid");
    assert!(validate_prefix("").is_err());
    assert!(validate_prefix("has_underscore").is_err());
    assert!(validate_prefix("-lead").is_err());
}

#[test]
fn generated_secrets_follow_the_template_rules() {
    let spec: Map<String, Json> =
        serde_json::from_str(r#"{"PasswordLength": 64, "ExcludePunctuation": true}"#)
            .expect("json");
    let secret = generate_secret(&Props { map: &spec }).expect("generates");
    assert_eq!(secret.len(), 64);
    assert!(
        secret.chars().all(|c| c.is_ascii_alphanumeric()),
        "{secret}"
    );

    let spec: Map<String, Json> = serde_json::from_str(
        r#"{"PasswordLength": "12", "SecretStringTemplate": "{\"user\":\"a\"}", "GenerateStringKey": "password", "ExcludeCharacters": "abc"}"#,
    )
    .expect("json");
    let doc: Json =
        serde_json::from_str(&generate_secret(&Props { map: &spec }).expect("generates"))
            .expect("secret is JSON");
    let password = doc["password"].as_str().expect("password");
    assert_eq!(doc["user"], "a");
    assert_eq!(password.chars().count(), 12);
    assert!(!password.contains(['a', 'b', 'c']), "{password}");
}
