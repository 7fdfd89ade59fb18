"""A SOAP client that posts to the address the served WSDL names (no endpoint override).
Run by tests/wsdl.rs:

    python3 tests/onc_zeep_address.py <wsdl-url> <accountId> <username> <password>
"""
import sys

import zeep

wsdl, account, username, password = sys.argv[1:5]
client = zeep.Client(wsdl)
port = client.wsdl.services["ONCService"].ports["BasicHttpBinding_IONCService"]
print("ADDRESS", port.binding_options["address"])
r = client.service.OpenAPISession(accountId=account, username=username, password=password)
assert r.ErrorCode == 0, r
assert r.SessionId, r
assert client.service.GetCampaignListing(r.SessionId) in (None, [])
assert client.service.CloseAPISession(r.SessionId).ErrorCode == 0
print("CALLED THROUGH THE WSDL ADDRESS OK")
