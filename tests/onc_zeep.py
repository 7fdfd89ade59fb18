"""A real SOAP client against switchboard's ONC service: loads the served WSDL with zeep
and calls all thirteen methods. Run by tests/onc.rs:

    python3 tests/onc_zeep.py <base-url> <accountId> <username> <password>
"""
import sys
import uuid

import zeep

base, account, username, password = sys.argv[1:5]
client = zeep.Client(base + "/onc/?wsdl")
svc = client.create_service("{http://tempuri.org/}BasicHttpBinding_IONCService", base + "/onc/ONCService.svc")
seen = set()


def lst(x):
    """zeep maps an empty WCF array to None (and a nil one to []): compare contents."""
    return [str(i) for i in (x or [])]


def is_nil(name, call, *args):
    """Whether the raw response carries a nil result (zeep cannot tell nil from empty)."""
    with client.settings(raw_response=True):
        raw = getattr(svc, call)(*args)
    seen.add(name)
    return raw.status_code == 200 and f'<{call}Result i:nil="true"'.encode() in raw.content


def check(name, got, want):
    seen.add(name)
    assert got == want, f"{name}: got {got!r}, want {want!r}"


bad = svc.OpenAPISession(account, username, "wrong")
check("OpenAPISession", bad.ErrorCode, 2)
r = svc.OpenAPISession(accountId=account, username=username, password=password)
check("OpenAPISession", r.ErrorCode, 0)
sid = r.SessionId
assert sid

check("GetCampaignListing", lst(svc.GetCampaignListing(sid)), [])
assert not is_nil("GetCampaignListing", "GetCampaignListing", sid)

Campaign = client.get_type("{http://schemas.datacontract.org/2004/07/ONC}OutboundNotificationCampaignInfo")
Sms = client.get_type("{http://schemas.datacontract.org/2004/07/ONC}OutboundSMSNotificationInfo")
Voice = client.get_type("{http://schemas.datacontract.org/2004/07/ONC}OutboundVoiceNotificationInfo")
Contact = client.get_type("{http://schemas.datacontract.org/2004/07/ONC}OutboundNotificationContactInfo")
Comm = client.get_type("{http://schemas.datacontract.org/2004/07/ONC}CommunicationInfo")

cid = str(uuid.uuid4())
campaign = Campaign(
    ID=cid,
    ShortName="Zeep campaign",
    Description="made by zeep",
    IsPaused=False,
    ActiveFromDate="2099-01-01",
    ActiveFromTime="09:00:00",
    ActiveToDate="2099-06-30",
    ActiveToTime="17:00:00",
    OutboundSMSNotificationInfo=Sms(Enabled=True, FromNumber="+17608675309", TextToSend="Hello from zeep"),
    OutboundVoiceNotificationInfo=Voice(
        Enabled=True,
        DialMsTimeout=30000,
        CallingName="Clinic",
        CallingNumber="+17608675309",
        TextToSpeak="Hello",
        TTSVoiceName="en-US",
        MaxTextPlays=2,
        MaxDeliveryRetries=4,
        RetryMinutesInterval=5,
    ),
    AllowAddingContactsFromExternalApps=True,
    SmsNotificationRequired=False,
    VoiceNotificationRequired=False,
    EmailNotificationRequired=False,
)
check("AddCampaign", svc.AddCampaign(sid, campaign), 0)
check("AddCampaign", svc.AddCampaign(sid, campaign), 5)

got = svc.GetCampaign(sid, cid)
check("GetCampaign", (str(got.ID), got.ShortName, got.ActiveToTime), (cid, "Zeep campaign", "17:00:00"))
assert got.OutboundVoiceNotificationInfo.MaxDeliveryRetries == 4
# zeep reads a nil complex member as an object of Nones
assert got.OutboundEmailNotificationInfo is None or got.OutboundEmailNotificationInfo.Enabled is None
assert got.CreationDateUtc is not None
assert is_nil("GetCampaign", "GetCampaign", sid, str(uuid.uuid4()))

check("GetCampaignListing", lst(svc.GetCampaignListing(sid)), [cid])
camps = svc.GetCampaigns(sid)
check("GetCampaigns", [c.ShortName for c in camps], ["Zeep campaign"])

campaign.ShortName = "Zeep renamed"
campaign.IsPaused = True
check("UpdateCampaign", svc.UpdateCampaign(sid, campaign), 0)
got = svc.GetCampaign(sid, cid)
assert got.ShortName == "Zeep renamed" and got.IsPaused is True, got

kid = str(uuid.uuid4())
contact = Contact(
    Id=kid,
    CampaignId=cid,
    SMSCommInfo=Comm(Destination="+17605550101", TextToSendOverwrite="Hi", StatusCode=4, LastDeliveryErrorCode=0, RetryCount=2),
    VoiceCommInfo=Comm(Destination="", StatusCode=0, LastDeliveryErrorCode=0),
)
check("AddCampaignContact", svc.AddCampaignContact(sid, contact), 0)
check("GetCampaignContactsListing", lst(svc.GetCampaignContactsListing(sid, cid)), [kid])
contacts = svc.GetCampaignContacts(sid, cid)
c = contacts[0]
check(
    "GetCampaignContacts",
    (str(c.Id), c.SMSCommInfo.StatusCode, c.SMSCommInfo.RetryCount, c.VoiceCommInfo.StatusCode, c.VoiceCommInfo.RetryCount, c.EmailCommInfo is None or c.EmailCommInfo.Destination is None),
    (kid, 1, 2, 0, 4, True),
)
contact.SMSCommInfo.Destination = "+17605550102"
check("UpdateCampaignContact", svc.UpdateCampaignContact(sid, contact), 0)
assert svc.GetCampaignContacts(sid, cid)[0].SMSCommInfo.Destination == "+17605550102"
check("DeleteCampaignContact", svc.DeleteCampaignContact(sid, cid, kid), 0)
check("DeleteCampaignContact", svc.DeleteCampaignContact(sid, cid, kid), 3)
check("GetCampaignContactsListing", lst(svc.GetCampaignContactsListing(sid, cid)), [])
assert not is_nil("GetCampaignContactsListing", "GetCampaignContactsListing", sid, cid)
check("DeleteCampaign", svc.DeleteCampaign(sid, cid), 0)
assert is_nil("GetCampaignContacts", "GetCampaignContacts", sid, cid)

r = svc.CloseAPISession(sid)
check("CloseAPISession", r.ErrorCode, 0)
assert is_nil("GetCampaigns", "GetCampaigns", sid)
assert is_nil("GetCampaignListing", "GetCampaignListing", sid)

assert len(seen) == 13, sorted(seen)
print("ALL 13 METHODS OK")
