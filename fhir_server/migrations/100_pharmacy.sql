-- Pharmacy (fhir_server/pharmacy/): dispensing limits and stock, kept in the write's own transaction.
-- http://hl7.org/fhir/R4/medicationrequest.html, medicationdispense.html, supplydelivery.html

-- One row per MedicationRequest that was written or dispensed against: the row every dispense
-- against that request (and every write of the request) locks FOR UPDATE, so the running
-- totals below are summed by one transaction at a time.
CREATE TABLE pharmacy_prescription (
    request_id text PRIMARY KEY
);

-- What each counting MedicationDispense takes: from its prescription (quantity, one fill) and,
-- when it names a location and a Medication, from that stock row (location_id/lot NULL: no stock).
CREATE TABLE pharmacy_dispense (
    dispense_id   text    PRIMARY KEY,
    request_id    text    NOT NULL,
    quantity      numeric NOT NULL CHECK (quantity >= 0),
    medication_id text,
    location_id   text,
    lot           text
);
CREATE INDEX pharmacy_dispense_request ON pharmacy_dispense (request_id);

-- Units on hand per Medication (one Medication per batch: Medication.batch), Location and lot.
CREATE TABLE pharmacy_stock (
    medication_id   text    NOT NULL,
    location_id     text    NOT NULL,
    lot             text    NOT NULL,
    quantity        numeric NOT NULL CONSTRAINT pharmacy_stock_not_negative CHECK (quantity >= 0),
    expiration_date date,
    PRIMARY KEY (medication_id, location_id, lot)
);
CREATE INDEX pharmacy_stock_location ON pharmacy_stock (location_id);

-- What each completed SupplyDelivery added to stock, so an update or deletion takes it back.
CREATE TABLE pharmacy_receipt (
    delivery_id   text    PRIMARY KEY,
    medication_id text    NOT NULL,
    location_id   text    NOT NULL,
    lot           text    NOT NULL,
    quantity      numeric NOT NULL CHECK (quantity > 0)
);
