-- Roles as data (fhir_server/smart_auth/roles.py, fhir_server/accounts/): a user account has one or
-- more roles; each role caps the SMART scopes its users may be granted. At token grant the granted
-- scopes are requested ∩ client's ∩ the union of the user's roles' caps, so the SQL predicates that
-- enforce scopes today (smart_auth/policy.py) enforce the role with no new cost on the FHIR hot path.
-- A user with no role row is not capped (accounts made before roles existed).
CREATE TABLE account_role (
    name        text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_-]{0,31}$'),
    description text NOT NULL
);

-- One row per scope a role may be granted (SMART v2 scope syntax, granular filters allowed).
-- Clinicians also get patient/*.rs: a patient-context app (standalone launch) works for them.
CREATE TABLE account_role_scope (
    role  text NOT NULL REFERENCES account_role ON DELETE CASCADE,
    scope text NOT NULL,
    PRIMARY KEY (role, scope)
);

CREATE TABLE smart_user_role (
    username text NOT NULL REFERENCES smart_user ON DELETE CASCADE,
    role     text NOT NULL REFERENCES account_role,
    PRIMARY KEY (username, role)
);

-- The blacklist and the e-mail verification of self-registered accounts: an inactive or unverified
-- user cannot sign in. Existing accounts are active and verified.
ALTER TABLE smart_user ADD COLUMN active boolean NOT NULL DEFAULT true;
ALTER TABLE smart_user ADD COLUMN verified boolean NOT NULL DEFAULT true;
ALTER TABLE smart_user ADD COLUMN email text;
CREATE UNIQUE INDEX smart_user_email ON smart_user (lower(email)) WHERE email IS NOT NULL;
CREATE INDEX smart_grant_username ON smart_grant (username) WHERE revoked_at IS NULL;

INSERT INTO account_role (name, description) VALUES
    ('admin', 'Hospital administrator: every resource, and the /admin/ API'),
    ('doctor', 'Physician: reads everything, writes clinical records'),
    ('nurse', 'Nurse: reads everything, records vital signs, administrations and encounters'),
    ('staff', 'Administrative staff: appointments, encounters, patient demographics'),
    ('billing', 'Billing office: claims, invoices, accounts, charges, payments'),
    ('patient', 'A patient: their own compartment, booking and their own demographics');

INSERT INTO account_role_scope (role, scope)
SELECT 'admin', s FROM unnest(ARRAY['user/*.cruds', 'patient/*.cruds', 'system/*.cruds']) AS s
UNION ALL
SELECT 'doctor', s FROM unnest(ARRAY['user/*.rs', 'patient/*.rs',
    'user/Condition.cruds', 'user/Observation.cruds', 'user/MedicationRequest.cruds',
    'user/ServiceRequest.cruds', 'user/DiagnosticReport.cruds', 'user/Procedure.cruds',
    'user/AllergyIntolerance.cruds', 'user/Immunization.cruds', 'user/CarePlan.cruds',
    'user/ClinicalImpression.cruds', 'user/FamilyMemberHistory.cruds', 'user/DocumentReference.cruds',
    'user/Composition.cruds', 'user/MedicationStatement.cruds', 'user/Specimen.cruds', 'user/Task.cruds',
    'user/Goal.cruds', 'user/CareTeam.cruds', 'user/Encounter.cruds']) AS s
UNION ALL
SELECT 'nurse', s FROM unnest(ARRAY['user/*.rs', 'patient/*.rs',
    'user/Observation.cu?category=http://terminology.hl7.org/CodeSystem/observation-category|vital-signs',
    'user/MedicationAdministration.cu', 'user/Encounter.cu']) AS s
UNION ALL
SELECT 'staff', s FROM unnest(ARRAY['user/Appointment.cruds', 'user/Encounter.cruds', 'user/Patient.crus',
    'user/Slot.rs', 'user/Schedule.rs', 'user/Practitioner.rs', 'user/PractitionerRole.rs',
    'user/Location.rs', 'user/Organization.rs', 'user/HealthcareService.rs']) AS s
UNION ALL
SELECT 'billing', s FROM unnest(ARRAY['user/Claim.cruds', 'user/ClaimResponse.cruds', 'user/Invoice.cruds',
    'user/Account.cruds', 'user/ChargeItem.cruds', 'user/PaymentReconciliation.cruds',
    'user/PaymentNotice.cruds', 'user/Coverage.cruds', 'user/ExplanationOfBenefit.rs',
    'user/Patient.rs', 'user/Encounter.rs', 'user/Organization.rs']) AS s
UNION ALL
SELECT 'patient', s FROM unnest(ARRAY['patient/*.rs', 'patient/Appointment.cru',
    'patient/QuestionnaireResponse.cru', 'patient/Patient.u']) AS s;
