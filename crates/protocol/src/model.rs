//! The shape of a generated service model: static tables built from the AWS API models.

/// The wire protocol a service speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `awsJson1_0` / `awsJson1_1`: POST `/`, operation in `X-Amz-Target`.
    AwsJson,
    /// `restJson1`: operation chosen by method and path.
    RestJson,
    /// `awsQuery`: form-encoded `Action=...`, XML responses.
    AwsQuery,
    /// `smithy-rpc-v2-cbor`: POST `/service/<name>/operation/<op>`, CBOR bodies.
    RpcV2Cbor,
    /// `ec2Query`: form-encoded `Action=...` with EC2's naming rules, XML responses.
    Ec2Query,
    /// `restXml` (S3's dialect): operation chosen by method, path and query, XML bodies.
    RestXml,
}

/// Where a structure member travels in a REST request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    /// In the body (JSON object member, query parameter for awsQuery).
    Body,
    /// A path label in the request URI.
    Uri,
    /// A query-string parameter.
    Query,
    /// An HTTP header.
    Header,
    /// A prefix of HTTP headers (map).
    Headers,
    /// The HTTP status code of a response.
    StatusCode,
}

/// One member of a structure shape.
#[derive(Debug)]
pub struct Member {
    /// Member name as in the model (`KeyId`).
    pub name: &'static str,
    /// Index of the member's shape in [`ServiceModel::shapes`].
    pub shape: u32,
    /// Where the member travels.
    pub location: Location,
    /// Wire name when it differs from `name` (query/XML element or header name).
    pub location_name: Option<&'static str>,
    /// The member is an idempotency token (filled by clients).
    pub idempotency_token: bool,
    /// The member is a flattened list or map (awsQuery / XML).
    pub flattened: bool,
    /// ec2Query parameter name, when the model gives one (`queryName`).
    pub query_name: Option<&'static str>,
    /// The member is an XML attribute of its parent element (restXml).
    pub xml_attribute: bool,
    /// XML namespace URI declared on the member's element (restXml).
    pub xml_namespace: Option<&'static str>,
}

impl Member {
    /// Defaults the generated tables fill in: a body member with no wire details.
    pub const DEFAULT: Member = Member {
        name: "",
        shape: 0,
        location: Location::Body,
        location_name: None,
        idempotency_token: false,
        flattened: false,
        query_name: None,
        xml_attribute: false,
        xml_namespace: None,
    };
}

/// The error trait of an exception structure.
#[derive(Debug)]
pub struct ErrorInfo {
    /// Wire error code (awsQuery may differ from the shape name).
    pub code: &'static str,
    /// HTTP status.
    pub status: u16,
    /// Caused by the client (`Sender`) rather than the service (`Receiver`).
    pub sender_fault: bool,
}

/// What kind of value a shape holds, with its constraints.
#[derive(Debug)]
pub enum Kind {
    /// An object with named members.
    Structure {
        /// Members in model order.
        members: &'static [Member],
        /// Names of required members.
        required: &'static [&'static str],
        /// Present for exception shapes.
        error: Option<ErrorInfo>,
        /// Exactly one member may be set.
        union: bool,
        /// REST payload member, if any.
        payload: Option<&'static str>,
    },
    /// A list.
    List {
        /// Element shape.
        member: u32,
        /// awsQuery element name (default `member`).
        member_name: Option<&'static str>,
        /// Flattened list.
        flattened: bool,
        /// Minimum length.
        min: Option<i64>,
        /// Maximum length.
        max: Option<i64>,
    },
    /// A map with string keys.
    Map {
        /// Key shape.
        key: u32,
        /// Value shape.
        value: u32,
        /// awsQuery key element name (default `key`).
        key_name: Option<&'static str>,
        /// awsQuery value element name (default `value`).
        value_name: Option<&'static str>,
        /// Flattened map.
        flattened: bool,
        /// Minimum entries.
        min: Option<i64>,
        /// Maximum entries.
        max: Option<i64>,
    },
    /// A string, possibly an enum.
    String {
        /// Minimum length in characters.
        min: Option<i64>,
        /// Maximum length in characters.
        max: Option<i64>,
        /// Regular expression the value must match.
        pattern: Option<&'static str>,
        /// Allowed values when non-empty.
        enums: &'static [&'static str],
    },
    /// A 32-bit integer.
    Integer {
        /// Minimum value.
        min: Option<i64>,
        /// Maximum value.
        max: Option<i64>,
    },
    /// A 64-bit integer.
    Long {
        /// Minimum value.
        min: Option<i64>,
        /// Maximum value.
        max: Option<i64>,
    },
    /// A floating-point number.
    Double {
        /// Minimum value.
        min: Option<f64>,
        /// Maximum value.
        max: Option<f64>,
    },
    /// A boolean.
    Boolean,
    /// A point in time (epoch seconds in JSON, ISO 8601 in XML unless `format` says otherwise).
    Timestamp {
        /// Explicit wire format (`iso8601`, `unixTimestamp`, `rfc822`).
        format: Option<&'static str>,
    },
    /// Binary data (base64 on the wire).
    Blob {
        /// Minimum length in bytes.
        min: Option<i64>,
        /// Maximum length in bytes.
        max: Option<i64>,
    },
}

/// A named shape.
#[derive(Debug)]
pub struct Shape {
    /// Shape name in the model.
    pub name: &'static str,
    /// Values of this shape are secret: never logged, audited or echoed in errors.
    pub sensitive: bool,
    /// Kind and constraints.
    pub kind: Kind,
    /// XML element name of the shape (its `locationName`), for restXml documents.
    pub xml_name: Option<&'static str>,
    /// XML namespace URI declared on the shape's element (restXml).
    pub xml_namespace: Option<&'static str>,
}

impl Shape {
    /// Defaults the generated tables fill in: not sensitive, no XML details.
    pub const DEFAULT: Shape = Shape {
        name: "",
        sensitive: false,
        kind: Kind::Boolean,
        xml_name: None,
        xml_namespace: None,
    };
}

/// One operation of a service.
#[derive(Debug)]
pub struct Operation {
    /// Operation name (`CreateKey`).
    pub name: &'static str,
    /// HTTP method (REST protocols).
    pub http_method: &'static str,
    /// Request URI template (REST protocols).
    pub request_uri: &'static str,
    /// HTTP status of a successful response.
    pub success_status: u16,
    /// Input shape index.
    pub input: Option<u32>,
    /// Output shape index.
    pub output: Option<u32>,
    /// awsQuery result element (`CreateUserResult`).
    pub result_wrapper: Option<&'static str>,
    /// Error shapes the operation declares.
    pub errors: &'static [u32],
}

/// A whole service model.
#[derive(Debug)]
pub struct ServiceModel {
    /// Rampart's key for the service (file name under `models/`).
    pub key: &'static str,
    /// AWS service id (`KMS`).
    pub service_id: &'static str,
    /// API version (`2014-11-01`).
    pub api_version: &'static str,
    /// Endpoint prefix (`kms`).
    pub endpoint_prefix: &'static str,
    /// SigV4 signing name (`kms`).
    pub signing_name: &'static str,
    /// The protocol the model lists first.
    pub protocol: Protocol,
    /// All protocols the model lists, in order.
    pub protocols: &'static [Protocol],
    /// awsJson version (`1.1`).
    pub json_version: Option<&'static str>,
    /// awsJson target prefix (`TrentService`).
    pub target_prefix: Option<&'static str>,
    /// XML namespace of responses (awsQuery, ec2Query, restXml).
    pub xml_namespace: Option<&'static str>,
    /// Shapes, sorted by name.
    pub shapes: &'static [Shape],
    /// Operations, sorted by name.
    pub operations: &'static [Operation],
}

impl ServiceModel {
    /// The shape at `index`.
    #[must_use]
    pub fn shape(&self, index: u32) -> Option<&'static Shape> {
        self.shapes.get(index as usize)
    }

    /// The operation named `name` (exact match).
    #[must_use]
    pub fn operation(&self, name: &str) -> Option<&'static Operation> {
        self.operations
            .binary_search_by(|op| op.name.cmp(name))
            .ok()
            .and_then(|i| self.operations.get(i))
    }

    /// The shape named `name`.
    #[must_use]
    pub fn shape_named(&self, name: &str) -> Option<&'static Shape> {
        self.shapes
            .binary_search_by(|s| s.name.cmp(name))
            .ok()
            .and_then(|i| self.shapes.get(i))
    }

    /// How the message member of the error `code` is spelled on the wire (`message` or
    /// `Message`): AWS writes its error structures as the model names their members. Errors
    /// the model does not list (authentication, validation) come from AWS's common front end,
    /// which writes `message`.
    #[must_use]
    pub fn error_message_member(&self, code: &str) -> &'static str {
        self.shapes
            .iter()
            .find_map(|s| match &s.kind {
                Kind::Structure {
                    members,
                    error: Some(e),
                    ..
                } if e.code == code || s.name == code => members
                    .iter()
                    .find(|m| m.name.eq_ignore_ascii_case("message"))
                    .map(|m| m.name),
                _ => None,
            })
            .unwrap_or("message")
    }

    /// The error shape of this service whose wire code is `code`.
    #[must_use]
    pub fn error_by_code(&self, code: &str) -> Option<&'static ErrorInfo> {
        self.shapes.iter().find_map(|s| match &s.kind {
            Kind::Structure { error: Some(e), .. } if e.code == code || s.name == code => Some(e),
            _ => None,
        })
    }
}

/// Look up a service model by its key (`kms`, `sts`, `acm-pca`).
#[must_use]
pub fn service(key: &str) -> Option<&'static ServiceModel> {
    crate::generated::ALL.iter().copied().find(|m| m.key == key)
}

/// Look up a service model by SigV4 signing name (`elasticloadbalancing` → elbv2).
#[must_use]
pub fn service_by_signing_name(name: &str) -> Option<&'static ServiceModel> {
    crate::generated::ALL
        .iter()
        .copied()
        .find(|m| m.signing_name == name || m.endpoint_prefix == name)
}
