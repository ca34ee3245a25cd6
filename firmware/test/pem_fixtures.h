/* Two self-signed certificates made with OpenSSL 3.0 for these tests (no private keys kept):
 *   openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
 *     -subj "/CN=camserver test EC" -addext "subjectAltName=IP:192.168.1.20,DNS:camserver.local"
 *   openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=camserver test RSA"
 * DER sizes: 436 and 799 bytes (openssl x509 -outform der | wc -c). */
#ifndef PEM_FIXTURES_H
#define PEM_FIXTURES_H

static const char EC_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBsDCCAVWgAwIBAgIUWLPSTzDYzmT2vKhT8t75IJld6tswCgYIKoZIzj0EAwIw\n"
    "HDEaMBgGA1UEAwwRY2Ftc2VydmVyIHRlc3QgRUMwHhcNMjYxMTMwMDcyMDQwWhcN\n"
    "MzYxMTI3MDcyMDQwWjAcMRowGAYDVQQDDBFjYW1zZXJ2ZXIgdGVzdCBFQzBZMBMG\n"
    "ByqGSM49AgEGCCqGSM49AwEHA0IABOYnxNt1K/wFQ4ahlF/qro9Ijx62WJw5mC5I\n"
    "/A9j8HnH5TNlqtkQkxPrn1HMkuRobxSHlYg3FwXl60dDWeOmqA2jdTBzMB0GA1Ud\n"
    "DgQWBBTMYLNWky1CeVniYP4csUxkgkOTwDAfBgNVHSMEGDAWgBTMYLNWky1CeVni\n"
    "YP4csUxkgkOTwDAPBgNVHRMBAf8EBTADAQH/MCAGA1UdEQQZMBeHBMCoARSCD2Nh\n"
    "bXNlcnZlci5sb2NhbDAKBggqhkjOPQQDAgNJADBGAiEA+1qDOxn5FlmD4GtBpKA5\n"
    "m94PMEe/wH8CQKa7lmwJZLYCIQDsVq8tgGydA2LSa64gEa5UWHQ8cPF/5ceEvGFB\n"
    "zikAeQ==\n"
    "-----END CERTIFICATE-----\n"
    ;
static const char RSA_PEM[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIDGzCCAgOgAwIBAgIUESgyszpcgOM7aGes5PDwob3AjZ8wDQYJKoZIhvcNAQEL\n"
    "BQAwHTEbMBkGA1UEAwwSY2Ftc2VydmVyIHRlc3QgUlNBMB4XDTI2MTEzMDA3MjA0\n"
    "MVoXDTM2MTEyNzA3MjA0MVowHTEbMBkGA1UEAwwSY2Ftc2VydmVyIHRlc3QgUlNB\n"
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAsqtzNLh824SclZQ/RUnc\n"
    "3wT36e6+gZWUDimmnqhWHf2QJekT6Jn+lRg2y6BVbC8Hb5l/TwDiqcVTkAopKxcL\n"
    "eQ4Dd0doDdhJYjcJYaQAiYIAPEnyxl3ugtDEkYcPqL/H2q5sbYNL8yXhEyS+VM5N\n"
    "7Yk08skmAt02TCFk0XMaJiTzynUONNytes+vlaxouVJL0NpTl8CE8FOa7SNNvUuO\n"
    "jJYJ6IN0W2lYOo1Ay+5mbu9V+zigVZxFsiIbDdKNwSL5Pl8BCq3L1nfnoi7iOecV\n"
    "l8QOtD5EDRwJUYRV35ftS/8fYO8jyrUG5oogvzECqdEKbG5njNu/B92Q9hqIU+DY\n"
    "kwIDAQABo1MwUTAdBgNVHQ4EFgQUtAZyI3lMWMFLRrdbJPGQzsjP85owHwYDVR0j\n"
    "BBgwFoAUtAZyI3lMWMFLRrdbJPGQzsjP85owDwYDVR0TAQH/BAUwAwEB/zANBgkq\n"
    "hkiG9w0BAQsFAAOCAQEArAByyLKU9CYY9IeVKSoCPCag+hxcBWvnMoepSms1+/CY\n"
    "CtW9uZjDsMVLfParktP/1v18TziCoZzFBfRT1qjir5I06MG+zMjbY9j7xNs/vLBH\n"
    "0zYeQuDpeKdE8GoJlwkb82jU+z7lSGKtJCo+qT07Mw145SxISzyqUBgcOXfd854c\n"
    "3in++nXT5hZVMnka2ABUHWQnnaD8ObNTjWBAQJPOPN7qI9ykLwFp8S+ZtU7xYFcj\n"
    "aXXPd8Pj9agxKRFzhSD9us8TDUjli2ZqdSr1fWUc1Ik2RNjxq7COzXaYWQgg3R9E\n"
    "I60aPcIzsB49nonbj9+6TcvDGqdpT5qhPlL0xkGZEg==\n"
    "-----END CERTIFICATE-----\n"
    ;
#define EC_DER_LEN 436
#define RSA_DER_LEN 799

#endif
