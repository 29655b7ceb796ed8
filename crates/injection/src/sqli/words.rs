//! Rampart's SQL word list: which words are keywords, operators and functions, and which
//! adjacent words merge into one token. Written from the SQL dialects' documentation (MySQL,
//! PostgreSQL, SQL Server, Oracle, SQLite); only words that change a fingerprint are listed.

use super::lexer::{Kind, ARITH, DANGER, UNARY};

/// How a word is tokenized.
pub enum WordClass {
    /// An identifier.
    Plain,
    /// Always this kind, with these flags.
    Is(Kind, u8),
    /// A function when `(` follows; `otherwise` when it does not.
    Function { otherwise: Kind, flags: u8 },
}

const fn func(flags: u8) -> WordClass {
    WordClass::Function {
        otherwise: Kind::Bare,
        flags,
    }
}

/// Classifies a lowercased word.
pub fn classify(w: &[u8]) -> WordClass {
    use Kind::*;
    match w {
        b"union" | b"except" | b"intersect" => WordClass::Is(Union, 0),
        b"select" | b"insert" | b"update" | b"delete" | b"replace" | b"merge" | b"truncate"
        | b"drop" | b"create" | b"alter" | b"rename" | b"grant" | b"revoke" | b"handler" => {
            WordClass::Is(Expr, 0)
        }
        b"group" | b"order" => WordClass::Is(Keyword, 0),
        b"having" | b"limit" | b"offset" => WordClass::Is(Group, 0),
        b"waitfor" | b"exec" | b"execute" | b"declare" | b"shutdown" | b"dbcc" | b"reconfigure" => {
            WordClass::Is(Tsql, 0)
        }
        b"and" | b"or" | b"xor" => WordClass::Is(Logic, 0),
        b"not" => WordClass::Is(Op, UNARY),
        b"div" | b"mod" => WordClass::Is(Op, ARITH),
        b"like" | b"rlike" | b"ilike" | b"regexp" | b"glob" | b"is" | b"in" | b"between"
        | b"sounds" | b"similar" | b"escape" | b"collate" | b"binary" => WordClass::Is(Op, 0),
        b"null" | b"true" | b"false" | b"unknown" | b"current_user" | b"current_timestamp"
        | b"current_date" | b"current_time" | b"localtime" | b"localtimestamp" | b"system_user"
        | b"session_user" => WordClass::Is(Num, 0),
        b"from" | b"where" | b"as" | b"into" | b"values" | b"set" | b"table" | b"join"
        | b"inner" | b"outer" | b"cross" | b"natural" | b"on" | b"using" | b"distinct" | b"all"
        | b"any" | b"some" | b"top" | b"case" | b"when" | b"then" | b"else" | b"end"
        | b"procedure" | b"outfile" | b"dumpfile" | b"delay" | b"by" | b"asc" | b"desc"
        | b"with" | b"database" | b"schema" | b"begin" | b"commit" | b"rollback" | b"lock"
        | b"share" | b"mode" | b"for" | b"returning" => WordClass::Is(Keyword, 0),
        // Functions with no everyday use outside attacks.
        b"sleep"
        | b"benchmark"
        | b"pg_sleep"
        | b"load_file"
        | b"extractvalue"
        | b"updatexml"
        | b"dbms_pipe.receive_message"
        | b"dbms_lock.sleep"
        | b"utl_inaddr.get_host_address"
        | b"utl_inaddr.get_host_name"
        | b"utl_http.request"
        | b"dbms_xmlgen.getxml"
        | b"sys.dbms_export_extension"
        | b"ctxsys.drithsx.sn"
        | b"randomblob"
        | b"name_const"
        | b"geometrycollection"
        | b"multipoint"
        | b"polygon"
        | b"linestring"
        | b"exp"
        | b"make_set"
        | b"elt"
        | b"pg_read_file"
        | b"pg_ls_dir"
        | b"lo_import"
        | b"lo_export"
        | b"openrowset"
        | b"opendatasource"
        | b"openquery"
        | b"xmltype"
        | b"procedure_analyse"
        | b"sys_eval"
        | b"sys_exec"
        | b"json_keys"
        | b"gtid_subset" => func(DANGER),
        // Stored procedures called without parentheses in T-SQL.
        b"xp_cmdshell"
        | b"sp_executesql"
        | b"sp_oacreate"
        | b"sp_oamethod"
        | b"xp_regread"
        | b"xp_dirtree"
        | b"sp_configure"
        | b"sp_makewebtask"
        | b"master..xp_cmdshell" => WordClass::Function {
            otherwise: Func,
            flags: DANGER,
        },
        b"version"
        | b"database_name"
        | b"user"
        | b"user_name"
        | b"schema_name"
        | b"db_name"
        | b"current_database"
        | b"connection_id"
        | b"last_insert_id"
        | b"row_count"
        | b"char"
        | b"chr"
        | b"nchar"
        | b"concat"
        | b"concat_ws"
        | b"group_concat"
        | b"string_agg"
        | b"listagg"
        | b"substring"
        | b"substr"
        | b"mid"
        | b"left"
        | b"right"
        | b"ascii"
        | b"ord"
        | b"hex"
        | b"unhex"
        | b"bin"
        | b"md5"
        | b"sha1"
        | b"sha2"
        | b"cast"
        | b"convert"
        | b"if"
        | b"iif"
        | b"ifnull"
        | b"isnull"
        | b"nullif"
        | b"coalesce"
        | b"count"
        | b"length"
        | b"len"
        | b"char_length"
        | b"lower"
        | b"upper"
        | b"lcase"
        | b"ucase"
        | b"floor"
        | b"ceil"
        | b"rand"
        | b"random"
        | b"row"
        | b"exists"
        | b"instr"
        | b"locate"
        | b"position"
        | b"strcmp"
        | b"reverse"
        | b"replicate"
        | b"space"
        | b"trim"
        | b"ltrim"
        | b"rtrim"
        | b"lpad"
        | b"rpad"
        | b"json_extract"
        | b"to_char"
        | b"to_number"
        | b"quote"
        | b"soundex"
        | b"sum"
        | b"min"
        | b"max"
        | b"avg"
        | b"abs"
        | b"round"
        | b"power"
        | b"sqrt"
        | b"now"
        | b"sysdate"
        | b"getdate"
        | b"uuid"
        | b"crc32"
        | b"compress"
        | b"uncompress"
        | b"encode"
        | b"decode"
        | b"aes_encrypt"
        | b"aes_decrypt"
        | b"from_base64"
        | b"to_base64"
        | b"conv"
        | b"format"
        | b"export_set"
        | b"is_srvrolemember"
        | b"has_dbaccess"
        | b"object_id"
        | b"db_id"
        | b"host_name"
        | b"suser_name"
        | b"system_user_name"
        | b"pg_backend_pid"
        | b"typeof"
        | b"unicode"
        | b"sqlite_version"
        | b"load_extension"
        | b"char_to_int"
        | b"utl_raw.cast_to_raw" => func(0),
        _ => WordClass::Plain,
    }
}

/// The token two adjacent words make together, if they form one SQL construct.
pub fn pair(first: &[u8], second: &[u8]) -> Option<Kind> {
    use Kind::*;
    Some(match (first, second) {
        (b"union" | b"except" | b"intersect", b"all" | b"distinct") => Union,
        (b"group" | b"order", b"by") => Group,
        (b"waitfor", b"delay" | b"time") => Tsql,
        (b"not", b"like" | b"in" | b"between" | b"regexp" | b"rlike" | b"ilike" | b"similar") => Op,
        (b"is", b"not") | (b"sounds", b"like") | (b"similar", b"to") => Op,
        (b"into", b"outfile" | b"dumpfile") | (b"procedure", b"analyse") => Keyword,
        (b"insert" | b"replace", b"into") | (b"delete", b"from") => Expr,
        (b"drop" | b"create" | b"alter" | b"truncate", b"table" | b"database" | b"schema")
        | (b"drop" | b"create" | b"alter", b"user" | b"procedure" | b"function" | b"view") => Expr,
        (b"exec" | b"execute", b"master..xp_cmdshell" | b"xp_cmdshell") => Tsql,
        (b"load", b"data") => Expr,
        _ => return None,
    })
}
