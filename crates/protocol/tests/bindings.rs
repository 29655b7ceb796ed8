//! HTTP bindings of the REST protocols, both ways: headers, header-prefix maps, status code and
//! payload members, on a small restJson1 model written here and on S3's real model; and the
//! ec2Query codec on EC2's model.

use base64::Engine as _;
use http::HeaderMap;
use rampart_protocol::http::{
    decode, encode_error, encode_output, identify, Framing, Head, Routing,
};
use rampart_protocol::limits::Limits;
use rampart_protocol::model::{
    service, Kind, Location, Member, Operation, Protocol, ServiceModel, Shape,
};
use rampart_protocol::{restxml, AwsError, Identified};
use serde_json::{json, Value};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

// A restJson1 service with every binding: shapes sorted by name, as the generator writes them.
static SHAPES: [Shape; 12] = [
    Shape {
        name: "Blob",
        kind: Kind::Blob {
            min: None,
            max: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "Boolean",
        kind: Kind::Boolean,
        ..Shape::DEFAULT
    },
    Shape {
        name: "Doc",
        kind: Kind::Structure {
            members: &[
                Member {
                    name: "Name",
                    shape: 5,
                    ..Member::DEFAULT
                },
                Member {
                    name: "Count",
                    shape: 4,
                    ..Member::DEFAULT
                },
            ],
            required: &[],
            error: None,
            union: false,
            payload: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "GetThingInput",
        kind: Kind::Structure {
            members: &[
                Member {
                    name: "Id",
                    shape: 5,
                    location: Location::Uri,
                    location_name: Some("Id"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Tags",
                    shape: 6,
                    location: Location::Query,
                    location_name: Some("tag"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Verbose",
                    shape: 1,
                    location: Location::Header,
                    location_name: Some("x-verbose"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Since",
                    shape: 8,
                    location: Location::Header,
                    location_name: Some("x-since"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Meta",
                    shape: 7,
                    location: Location::Headers,
                    location_name: Some("x-meta-"),
                    ..Member::DEFAULT
                },
            ],
            required: &["Id"],
            error: None,
            union: false,
            payload: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "Integer",
        kind: Kind::Integer {
            min: None,
            max: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "String",
        kind: Kind::String {
            min: None,
            max: None,
            pattern: None,
            enums: &[],
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "StringList",
        kind: Kind::List {
            member: 5,
            member_name: None,
            flattened: false,
            min: None,
            max: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "StringMap",
        kind: Kind::Map {
            key: 5,
            value: 5,
            key_name: None,
            value_name: None,
            flattened: false,
            min: None,
            max: None,
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "Timestamp",
        kind: Kind::Timestamp { format: None },
        ..Shape::DEFAULT
    },
    Shape {
        name: "GetThingOutput",
        kind: Kind::Structure {
            members: &[
                Member {
                    name: "ETag",
                    shape: 5,
                    location: Location::Header,
                    location_name: Some("ETag"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Modified",
                    shape: 8,
                    location: Location::Header,
                    location_name: Some("Last-Modified"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Meta",
                    shape: 7,
                    location: Location::Headers,
                    location_name: Some("x-meta-"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Status",
                    shape: 4,
                    location: Location::StatusCode,
                    ..Member::DEFAULT
                },
                Member {
                    name: "Data",
                    shape: 0,
                    ..Member::DEFAULT
                },
            ],
            required: &[],
            error: None,
            union: false,
            payload: Some("Data"),
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "PutDocInput",
        kind: Kind::Structure {
            members: &[
                Member {
                    name: "Doc",
                    shape: 2,
                    ..Member::DEFAULT
                },
                Member {
                    name: "DryRun",
                    shape: 1,
                    location: Location::Query,
                    location_name: Some("dry-run"),
                    ..Member::DEFAULT
                },
            ],
            required: &[],
            error: None,
            union: false,
            payload: Some("Doc"),
        },
        ..Shape::DEFAULT
    },
    Shape {
        name: "PutDocOutput",
        kind: Kind::Structure {
            members: &[
                Member {
                    name: "Status",
                    shape: 4,
                    location: Location::StatusCode,
                    ..Member::DEFAULT
                },
                Member {
                    name: "Location",
                    shape: 5,
                    location: Location::Header,
                    location_name: Some("Location"),
                    ..Member::DEFAULT
                },
                Member {
                    name: "Id",
                    shape: 5,
                    ..Member::DEFAULT
                },
                Member {
                    name: "Count",
                    shape: 4,
                    ..Member::DEFAULT
                },
            ],
            required: &[],
            error: None,
            union: false,
            payload: None,
        },
        ..Shape::DEFAULT
    },
];

static OPERATIONS: [Operation; 2] = [
    Operation {
        name: "GetThing",
        http_method: "GET",
        request_uri: "/things/{Id}",
        success_status: 200,
        input: Some(3),
        output: Some(9),
        result_wrapper: None,
        errors: &[],
    },
    Operation {
        name: "PutDoc",
        http_method: "PUT",
        request_uri: "/docs",
        success_status: 200,
        input: Some(10),
        output: Some(11),
        result_wrapper: None,
        errors: &[],
    },
];

static THINGS: ServiceModel = ServiceModel {
    key: "things",
    service_id: "Things",
    api_version: "2020-01-01",
    endpoint_prefix: "things",
    signing_name: "things",
    protocol: Protocol::RestJson,
    protocols: &[Protocol::RestJson],
    json_version: None,
    target_prefix: None,
    xml_namespace: None,
    shapes: &SHAPES,
    operations: &OPERATIONS,
};

fn things(op: &str) -> Identified {
    Identified {
        model: &THINGS,
        protocol: Protocol::RestJson,
        operation: op.to_owned(),
        labels: Vec::new(),
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            http::HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

fn header<'a>(r: &'a http::Response<bytes::Bytes>, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

#[test]
fn output_members_bound_to_headers_are_written_as_headers_not_body() {
    let out = json!({
        "ETag": "\"abc\"",
        "Modified": 1_398_796_238,
        "Meta": { "color": "red" },
        "Data": B64.encode(b"hello"),
    });
    let r = encode_output(&things("GetThing"), &out, "rid-1");
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "etag"), Some("\"abc\""));
    assert_eq!(
        header(&r, "last-modified"),
        Some("Tue, 29 Apr 2014 18:30:38 GMT")
    );
    assert_eq!(header(&r, "x-meta-color"), Some("red"));
    assert_eq!(header(&r, "x-amzn-requestid"), Some("rid-1"));
    // The blob payload is the body itself, raw.
    assert_eq!(header(&r, "content-type"), Some("application/octet-stream"));
    assert_eq!(r.body().as_ref(), b"hello");
}

#[test]
fn output_member_bound_to_the_status_code_sets_the_http_status() {
    let out = json!({ "Status": 201, "Location": "/docs/7", "Id": "7", "Count": 2 });
    let r = encode_output(&things("PutDoc"), &out, "rid");
    assert_eq!(r.status(), 201);
    assert_eq!(header(&r, "location"), Some("/docs/7"));
    let body: Value = serde_json::from_slice(r.body()).expect("json body");
    assert_eq!(body, json!({ "Id": "7", "Count": 2 }));
    // Without the member the operation's success status stands.
    let r = encode_output(&things("PutDoc"), &json!({ "Id": "8" }), "rid");
    assert_eq!(r.status(), 200);
}

#[test]
fn input_bindings_read_labels_list_query_typed_headers_and_prefix_maps() {
    let h = headers(&[
        ("x-verbose", "true"),
        ("x-since", "Tue, 29 Apr 2014 18:30:38 GMT"),
        ("x-meta-color", "red"),
        ("x-meta-size", "L"),
    ]);
    let head = Head {
        method: "GET",
        path: "/things/a%20b",
        query: Some("tag=x&tag=y"),
        headers: &h,
    };
    let id = rampart_protocol::rest::identify(&THINGS, head.method, head.path).expect("routed");
    let v = decode(&id, &head, b"", &Limits::default()).expect("decoded");
    assert_eq!(
        v,
        json!({
            "Id": "a b",
            "Tags": ["x", "y"],
            "Verbose": true,
            "Since": 1_398_796_238.0,
            "Meta": { "color": "red", "size": "L" },
        })
    );
}

#[test]
fn a_structure_payload_is_the_whole_json_body() {
    let h = HeaderMap::new();
    let head = Head {
        method: "PUT",
        path: "/docs",
        query: Some("dry-run=true"),
        headers: &h,
    };
    let v = decode(
        &things("PutDoc"),
        &head,
        br#"{"Name":"n","Count":3}"#,
        &Limits::default(),
    )
    .expect("decoded");
    assert_eq!(
        v,
        json!({ "Doc": { "Name": "n", "Count": 3 }, "DryRun": true })
    );
}

fn s3_head<'a>(
    method: &'a str,
    path: &'a str,
    query: Option<&'a str>,
    h: &'a HeaderMap,
) -> Head<'a> {
    Head {
        method,
        path,
        query,
        headers: h,
    }
}

fn s3_decode(head: &Head<'_>, body: &[u8]) -> (String, Value) {
    let id = identify(head, body, Some("s3"), &Routing::default()).expect("identified");
    let v = decode(&id, head, body, &Limits::default()).expect("decoded");
    (id.operation, v)
}

#[test]
fn xml_payload_round_trips_through_decode_and_encode() {
    let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>env</Key><Value>prod &amp; test</Value></Tag><Tag><Key>team</Key><Value>sec</Value></Tag></TagSet></Tagging>"#;
    let h = headers(&[("host", "localhost:4566")]);
    let (op, v) = s3_decode(&s3_head("PUT", "/photos", Some("tagging"), &h), doc);
    assert_eq!(op, "PutBucketTagging");
    let tagging = json!({ "TagSet": [
        { "Key": "env", "Value": "prod & test" },
        { "Key": "team", "Value": "sec" },
    ]});
    assert_eq!(v, json!({ "Bucket": "photos", "Tagging": tagging }));
    // The same document comes back from GetBucketTagging and reads back identically.
    let s3 = service("s3").expect("s3");
    let get = Identified {
        model: s3,
        protocol: Protocol::RestXml,
        operation: "GetBucketTagging".into(),
        labels: Vec::new(),
    };
    let r = encode_output(&get, &tagging, "rid");
    let body = std::str::from_utf8(r.body()).expect("utf8");
    assert!(
        body.contains("xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\""),
        "{body}"
    );
    assert!(body.contains("<TagSet><Tag><Key>env</Key><Value>prod &amp; test</Value></Tag>"));
    let out_shape = get.op().and_then(|o| o.output).expect("output");
    let back = restxml::decode_body(s3, out_shape, r.body(), &Limits::default()).expect("xml");
    assert_eq!(back, tagging);
}

#[test]
fn s3_list_objects_v2_is_told_apart_by_its_query_key() {
    let h = headers(&[("host", "localhost:4566")]);
    let (op, v) = s3_decode(
        &s3_head(
            "GET",
            "/photos",
            Some("list-type=2&prefix=2024%2F&max-keys=10"),
            &h,
        ),
        b"",
    );
    assert_eq!(op, "ListObjectsV2");
    assert_eq!(
        v,
        json!({ "Bucket": "photos", "Prefix": "2024/", "MaxKeys": 10 })
    );
    let (op, _) = s3_decode(&s3_head("GET", "/photos", None, &h), b"");
    assert_eq!(op, "ListObjects");
    let (op, _) = s3_decode(&s3_head("GET", "/photos", Some("tagging"), &h), b"");
    assert_eq!(op, "GetBucketTagging");
    let (op, _) = s3_decode(&s3_head("GET", "/", None, &h), b"");
    assert_eq!(op, "ListBuckets");
    let (op, _) = s3_decode(
        &s3_head("POST", "/photos/a/b.jpg", Some("uploads"), &h),
        b"",
    );
    assert_eq!(op, "CreateMultipartUpload");
}

#[test]
fn s3_put_object_reads_headers_metadata_and_the_raw_body() {
    let h = headers(&[
        ("host", "localhost:4566"),
        ("content-type", "text/plain"),
        ("x-amz-meta-color", "red"),
        ("x-amz-meta-owner", "ana"),
        ("x-amz-server-side-encryption", "aws:kms"),
    ]);
    let (op, v) = s3_decode(
        &s3_head("PUT", "/photos/2024/a%20b.txt", None, &h),
        b"hi there",
    );
    assert_eq!(op, "PutObject");
    assert_eq!(
        v,
        json!({
            "Bucket": "photos",
            "Key": "2024/a b.txt",
            "ContentType": "text/plain",
            "Metadata": { "color": "red", "owner": "ana" },
            "ServerSideEncryption": "aws:kms",
            "Body": B64.encode(b"hi there"),
        })
    );
    // The same path with a part number and upload id is UploadPart.
    let (op, v) = s3_decode(
        &s3_head("PUT", "/photos/k", Some("partNumber=2&uploadId=u1"), &h),
        b"x",
    );
    assert_eq!(op, "UploadPart");
    assert_eq!(v["PartNumber"], json!(2));
    assert_eq!(v["UploadId"], json!("u1"));
}

#[test]
fn s3_get_object_output_writes_headers_and_the_blob_payload() {
    let s3 = service("s3").expect("s3");
    let get = Identified {
        model: s3,
        protocol: Protocol::RestXml,
        operation: "GetObject".into(),
        labels: Vec::new(),
    };
    let out = json!({
        "Body": B64.encode(b"object bytes"),
        "ContentType": "image/png",
        "ContentLength": 12,
        "ETag": "\"e1\"",
        "LastModified": 1_398_796_238,
        "Metadata": { "color": "red" },
        "DeleteMarker": false,
    });
    let r = encode_output(&get, &out, "rid-9");
    assert_eq!(r.status(), 200);
    assert_eq!(r.body().as_ref(), b"object bytes");
    assert_eq!(header(&r, "content-type"), Some("image/png"));
    assert_eq!(header(&r, "content-length"), Some("12"));
    assert_eq!(header(&r, "etag"), Some("\"e1\""));
    assert_eq!(
        header(&r, "last-modified"),
        Some("Tue, 29 Apr 2014 18:30:38 GMT")
    );
    assert_eq!(header(&r, "x-amz-meta-color"), Some("red"));
    assert_eq!(header(&r, "x-amz-delete-marker"), Some("false"));
    assert_eq!(header(&r, "x-amz-request-id"), Some("rid-9"));
}

#[test]
fn s3_create_bucket_reads_its_xml_configuration() {
    let h = headers(&[("host", "localhost:4566"), ("x-amz-acl", "private")]);
    let doc = br#"<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"#;
    let (op, v) = s3_decode(&s3_head("PUT", "/photos", None, &h), doc);
    assert_eq!(op, "CreateBucket");
    assert_eq!(
        v,
        json!({
            "Bucket": "photos",
            "ACL": "private",
            "CreateBucketConfiguration": { "LocationConstraint": "eu-west-1" },
        })
    );
    // A malformed document is S3's MalformedXML.
    let id = identify(
        &s3_head("PUT", "/photos", None, &h),
        b"<Create",
        Some("s3"),
        &Routing::default(),
    )
    .expect("identified");
    let e = decode(
        &id,
        &s3_head("PUT", "/photos", None, &h),
        b"<Create",
        &Limits::default(),
    )
    .expect_err("malformed");
    assert_eq!(e.code, "MalformedXML");
}

#[test]
fn s3_virtual_host_and_path_style_name_the_same_bucket() {
    let path_style = headers(&[("host", "s3.us-east-1.amazonaws.com")]);
    let (op1, v1) = s3_decode(&s3_head("GET", "/my.photos/a/b", None, &path_style), b"");
    for host in [
        "my.photos.s3.us-east-1.amazonaws.com",
        "my.photos.s3.amazonaws.com",
        "my.photos.s3-eu-west-1.amazonaws.com",
        "my.photos.s3.localhost:4566",
    ] {
        let vh = headers(&[("host", host)]);
        let (op2, v2) = s3_decode(&s3_head("GET", "/a/b", None, &vh), b"");
        assert_eq!((op1.as_str(), &v1), (op2.as_str(), &v2), "{host}");
    }
    assert_eq!(op1, "GetObject");
    assert_eq!(v1, json!({ "Bucket": "my.photos", "Key": "a/b" }));
    // A custom domain suffix, and the bucket itself as a virtual host.
    let routing = Routing {
        virtual_host_suffixes: vec!["objects.example.internal".into()],
    };
    let vh = headers(&[("host", "photos.objects.example.internal")]);
    let head = s3_head("GET", "/", Some("list-type=2"), &vh);
    let id = identify(&head, b"", Some("s3"), &routing).expect("identified");
    assert_eq!(id.operation, "ListObjectsV2");
    assert_eq!(
        decode(&id, &head, b"", &Limits::default()).expect("decoded"),
        json!({ "Bucket": "photos" })
    );
    assert_eq!(restxml::bucket_from_host("s3.amazonaws.com", &[]), None);
    assert_eq!(restxml::bucket_from_host("localhost", &[]), None);
}

#[test]
fn s3_errors_use_s3s_error_body_without_namespace() {
    let e = AwsError::new("NoSuchKey", 404, "The specified key does not exist.");
    let r = rampart_protocol::http::encode_error_at(
        Framing::RestXml,
        &e,
        "rid-3",
        Some("/photos/a.txt"),
    );
    assert_eq!(r.status(), 404);
    assert_eq!(header(&r, "content-type"), Some("application/xml"));
    let body = std::str::from_utf8(r.body()).expect("utf8");
    assert_eq!(
        body,
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Resource>/photos/a.txt</Resource><RequestId>rid-3</RequestId></Error>"
    );
}

fn ec2_id(h: &HeaderMap, body: &[u8]) -> Identified {
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: h,
    };
    identify(&head, body, Some("ec2"), &Routing::default()).expect("identified")
}

#[test]
fn ec2_describe_security_groups_decodes_filters_and_flat_lists() {
    let h = headers(&[(
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    )]);
    let body = b"Action=DescribeSecurityGroups&Version=2016-11-15&Filter.1.Name=group-name&Filter.1.Value.1=web&Filter.1.Value.2=db&Filter.2.Name=vpc-id&Filter.2.Value.1=vpc-1&GroupId.1=sg-1&GroupId.2=sg-2&DryRun=false&MaxResults=50";
    let id = ec2_id(&h, body);
    assert_eq!(id.protocol, Protocol::Ec2Query);
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: &h,
    };
    let v = decode(&id, &head, body, &Limits::default()).expect("decoded");
    assert_eq!(
        v,
        json!({
            "Filters": [
                { "Name": "group-name", "Values": ["web", "db"] },
                { "Name": "vpc-id", "Values": ["vpc-1"] },
            ],
            "GroupIds": ["sg-1", "sg-2"],
            "DryRun": false,
            "MaxResults": 50,
        })
    );
}

#[test]
fn ec2_output_uses_location_names_item_lists_and_request_id() {
    let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
    let id = ec2_id(&h, b"Action=DescribeSecurityGroups");
    let out = json!({ "SecurityGroups": [{
        "GroupId": "sg-1",
        "GroupName": "web",
        "Description": "a & b",
        "IpPermissions": [{ "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "IpRanges": [{ "CidrIp": "0.0.0.0/0" }] }],
    }]});
    let r = encode_output(&id, &out, "req-1");
    let body = std::str::from_utf8(r.body()).expect("utf8");
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<DescribeSecurityGroupsResponse xmlns=\"http://ec2.amazonaws.com/doc/2016-11-15/\"><requestId>req-1</requestId><securityGroupInfo><item>"), "{body}");
    assert!(body.contains("<groupId>sg-1</groupId>"));
    assert!(body.contains("<groupDescription>a &amp; b</groupDescription>"));
    assert!(body.contains("<ipPermissions><item><fromPort>443</fromPort><ipProtocol>tcp</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges><toPort>443</toPort></item></ipPermissions>"), "{body}");
    assert!(body.ends_with("</DescribeSecurityGroupsResponse>"));
}

#[test]
fn ec2_errors_use_ec2s_response_errors_body() {
    let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
    let id = ec2_id(&h, b"Action=NoSuchThing");
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: &h,
    };
    let e = decode(&id, &head, b"Action=NoSuchThing", &Limits::default()).expect_err("unknown");
    assert_eq!(e.code, "InvalidAction");
    let r = encode_error(Framing::of(&id), &e, "req-2");
    assert_eq!(r.status(), 400);
    let body = std::str::from_utf8(r.body()).expect("utf8");
    assert!(body.ends_with("<Response><Errors><Error><Code>InvalidAction</Code><Message>Could not find operation NoSuchThing for version 2016-11-15</Message></Error></Errors><RequestID>req-2</RequestID></Response>"), "{body}");
}

#[test]
fn existing_protocols_keep_their_framing() {
    let h = headers(&[("x-amz-target", "TrentService.ListKeys")]);
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: &h,
    };
    let id = identify(&head, b"{}", Some("kms"), &Routing::default()).expect("kms");
    assert_eq!(id.operation, "ListKeys");
    let r = encode_output(&id, &json!({ "Keys": [] }), "r");
    assert_eq!(
        header(&r, "content-type"),
        Some("application/x-amz-json-1.1")
    );
    assert_eq!(r.body().as_ref(), br#"{"Keys":[]}"#);
    let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
    let head = Head {
        method: "POST",
        path: "/",
        query: None,
        headers: &h,
    };
    let id = identify(
        &head,
        b"Action=GetCallerIdentity",
        None,
        &Routing::default(),
    )
    .expect("sts");
    assert_eq!((id.model.key, id.protocol), ("sts", Protocol::AwsQuery));
    let unknown = identify(&head, b"Action=Nope", Some("iam"), &Routing::default())
        .expect("iam routes any action");
    let e = decode(&unknown, &head, b"Action=Nope", &Limits::default()).expect_err("unknown");
    assert_eq!(e.code, "InvalidAction");
}
