/**
 * The "Pantavisor Dev CA" certificate that a stock device trusts: the only
 * certificate in its pvs trust store `ca-certificates` (paths.h
 * PVS_CERT_DEFAULT_STORE, config.c PV_SECUREBOOT_TRUSTSTORE, signature.c
 * _set_path_trust_crts). Byte for byte Pantavisor's pvs/trust/ca-certificates.crt
 * (MIT, commit 303584a79137496982dd759184de89111ea336b1, sha256
 * 04bd94ce95d647f7a94095dc972ad244a5296a1e021fbeb7edac41d09f63b1e8); the
 * same file is vendored as test/fixtures/upstream/pantavisor-dev-ca.crt (see
 * test/fixtures/upstream/PROVENANCE.md), and a test holds the two equal. It lives in a
 * module so that it ships inside the built app with the simulator.
 */
export const PANTAVISOR_DEV_CA_PEM = `-----BEGIN CERTIFICATE-----
MIIDXTCCAkWgAwIBAgIUY3EGdHoqqrQZPNHgYyAEk0nFicowDQYJKoZIhvcNAQEL
BQAwHDEaMBgGA1UEAwwRUGFudGF2aXNvciBEZXYgQ0EwHhcNMjIwNjExMjMzNzE1
WhcNMzIwNjA4MjMzNzE1WjAcMRowGAYDVQQDDBFQYW50YXZpc29yIERldiBDQTCC
ASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAM/WELmSqMyll4RGA0S81Ctf
np1abWFEba4pKCLUrD1k8Xc8tGkjsi1pglhSZjKTZdcVlG7nOxge8mJ9HyBhnb0L
XjhS2N3ypewd4aAzoF31trceBenoqSaap1kc/zRbhEt/S3ARdVPKbt4+C2IhyNa/
gVKObniTb4P8lA1NeB86/bhPWsgqg05aQy3gaTQGDou04ZFxGo0kz42OTLzFDMVa
cCJmO5NZ0xi1vX9H/zoeRbNrIy5zS7FZw0wdDcDyQtxPOK7BggVNxeh6NGFjgYdZ
Y/GZS4Kuds02pkRTwCJzCe9RBVRPzmeR0EcdosQV6efiFdmOcpRd3MY8miQYhssC
AwEAAaOBljCBkzAMBgNVHRMEBTADAQH/MB0GA1UdDgQWBBRZi5D6koLghumYKa8T
+Pgh6pGBPTBXBgNVHSMEUDBOgBRZi5D6koLghumYKa8T+Pgh6pGBPaEgpB4wHDEa
MBgGA1UEAwwRUGFudGF2aXNvciBEZXYgQ0GCFGNxBnR6Kqq0GTzR4GMgBJNJxYnK
MAsGA1UdDwQEAwIBBjANBgkqhkiG9w0BAQsFAAOCAQEARA1/4Xy/ITXy1hyVqFTS
bPBBkj5pjFkanB606/Turtm+7RaboUKzDXkCwFx3M+KNR7uqit3Z88UiWGvS5BFf
61BG9OtbHvrsCXbuUgY+ubs6BhsFzoCgauUcC41pP1kf4RWyHuOUV+EIW3HTaMW4
M3onFzqSvpI+gOFo5NPrJKArQt8kDwciPdpkIqwJvzzIEjzipUr1AkSQ2Pm1FK/W
zHjr03by6GFq9GDn1R60yol5ixU9oFgpO88To9KnF7ah6uYGA1ukstCJaC7UtsxX
UpbEDz4FATw7RC6tYRCezT3B2+RiHgDCVG/eeech2RSIbxrbH67m82Vnn0CZOP8h
cg==
-----END CERTIFICATE-----
`
