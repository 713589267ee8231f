"""The payment providers' wire: key files, signatures and formats that Keyun's provider clients
(keyun.gateway.payments) and the sandbox playing the providers (keyun.sandboxes.payments) share."""
