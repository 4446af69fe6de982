//! Test component of another world: `vathost check` and launch must reject it.
#![allow(unsafe_code)] // wit-bindgen's generated export glue
wit_bindgen::generate!({
    inline: "package test:wrong; world wrong { export hello: func() -> string; }",
});

struct Wrong;

impl Guest for Wrong {
    fn hello() -> String {
        "not a vat".to_owned()
    }
}

export!(Wrong);
