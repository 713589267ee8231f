"""`keyun web`: the station's public web pages (departure board, passenger site, kiosk).

Like every other terminal it is a gRPC client of the gateway and keeps no ticketing state: each
page calls the same RPCs as the counter or the CLI, with the passenger's or the device's own token.
"""
