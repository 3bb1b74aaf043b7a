"""conversations: form state, volunteers, 优抚对象, help requests, activities, FAQ

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 03:40:06.984382

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

# The FAQ the account starts with (政策咨询). A data migration, so a fresh database
# answers at once; staff edit the entries afterwards. Answers stay general and point
# to the 服务站, because local amounts and procedures differ by county.
FAQ_SEED = [
    ("优待证", "优待证,优待卡,申领,补办",
     "退役军人和其他优抚对象优待证：\n"
     "1. 先在户籍地或常住地乡镇（街道）退役军人服务站完成信息采集；\n"
     "2. 带身份证、户口簿和身份证明材料到服务站申领，也可网上申请；\n"
     "3. 80岁以上或卧床的老人，可申请工作人员上门办理。\n"
     "补办、信息变更也在服务站办理。"),
    ("光荣牌", "光荣牌,挂牌,悬挂",
     "光荣牌发放给烈士遗属、军属和退役军人家庭，每户一块。\n"
     "由乡镇（街道）退役军人服务站组织悬挂；光荣牌破损、褪色或搬家后需要更换的，可联系服务站申请。"),
    ("义务兵优待金", "优待金,义务兵家庭,义务兵",
     "义务兵服役期间，其家庭由入伍地县级人民政府按年发放义务兵家庭优待金。\n"
     "发放时间和标准以当地规定为准，可向县退役军人事务局或服务站查询发放进度。"),
    ("诉讼费缓减免", "诉讼费,缓交,减交,免交,打官司,起诉,司法救助",
     "经济困难的军人、军属和退役军人打官司，可以向受理案件的人民法院申请缓交、减交或免交诉讼费，"
     "符合条件的还可申请司法救助。\n需要帮助可在本公众号“提交求助”，类别选“法律援助/司法救助”。"),
    ("法律援助", "法律援助,律师,法律咨询,维权,权益",
     "军人军属、退役军人合法权益受到侵害的，可向当地法律援助机构申请法律援助，军人军属优先受理。\n"
     "也可在本公众号“提交求助”，由工作人员帮您对接。"),
    ("优抚医疗", "医疗,看病,就医,住院,医保,体检,治病",
     "优抚对象按规定享受医疗保障和医疗优待：就医优先，重点优抚对象医疗费用可按规定补助。\n"
     "具体报销比例和补助标准以当地规定为准，可携带优待证到服务站咨询。"),
    ("就业创业", "就业,创业,招聘,培训,贷款,贴息,找工作",
     "退役军人就业创业扶持包括：专场招聘会、免费技能培训、创业贷款和贴息、税收优惠等。\n"
     "请联系县退役军人事务局就业科或服务站登记需求。"),
    ("抚恤补助", "抚恤,补助,定期,生活补助,抚恤金",
     "残疾军人、烈士遗属、因公牺牲和病故军人遗属、在乡复员军人、带病回乡退伍军人、参战参试退役人员等，"
     "按规定享受定期抚恤或定期生活补助。\n抚恤金、补助金和优待金不计入家庭收入。"),
    ("伤残评定", "伤残,评残,残疾军人证,残疾等级,评定",
     "因战、因公、因病致残的，可申请评定残疾等级，持有《残疾军人证》。\n"
     "申请材料和流程请咨询服务站，由县退役军人事务局受理。"),
    ("信息采集", "建档立卡,信息采集,登记,建档",
     "信息采集（建档立卡）是办理优待证等服务的前提。\n"
     "您可以在本公众号回复“优抚登记”先行登记，工作人员核实后会与您联系。"),
    ("住房困难", "住房,危房,房子,保障房,修房",
     "住房困难的优抚对象，在危房改造、保障性住房等方面按规定优先照顾。\n"
     "可在本公众号“提交求助”，类别选“住房”。"),
    ("子女教育优待", "入学,上学,子女,入托,教育,学校",
     "军人子女入学、入托按规定享受优待，烈士子女和因公牺牲军人子女优先。\n"
     "具体办法请咨询当地教育部门或服务站。"),
    ("烈士褒扬祭扫", "烈士,祭扫,烈士陵园,纪念,扫墓,褒扬",
     "每年清明节和9月30日烈士纪念日组织祭扫活动。\n"
     "烈士遗属到外地祭扫，可按规定申请补助，请联系服务站。"),
    ("档案转接", "档案,组织关系,转接,安置",
     "退役军人的档案、组织关系转接和安置事项，由县退役军人事务局办理。\n"
     "请带退役证件和身份证前往，或先电话咨询。"),
    ("走访慰问", "慰问,走访,春节,八一,节日,喜报,立功",
     "元旦、春节和八一前后，服务站和志愿者会走访慰问优抚对象家庭，军人立功后送喜报到家。\n"
     "如需上门走访，可在本公众号“提交求助”说明情况。"),
]


def _seed_faq() -> None:
    faq = sa.table(
        "faq_entry",
        sa.column("topic", sa.String),
        sa.column("keywords", sa.String),
        sa.column("answer", sa.Text),
        sa.column("position", sa.Integer),
        sa.column("enabled", sa.Boolean),
    )
    op.bulk_insert(
        faq,
        [
            {"topic": topic, "keywords": keywords, "answer": answer, "position": n, "enabled": True}
            for n, (topic, keywords, answer) in enumerate(FAQ_SEED, start=1)
        ],
    )


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table('activity',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=48), nullable=False),
    sa.Column('title', sa.String(length=60), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('starts_at', sa.DateTime(), nullable=False),
    sa.Column('ends_at', sa.DateTime(), nullable=True),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('open', 'closed', 'cancelled', name='activitystatus', native_enum=False, length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity')),
    sa.UniqueConstraint('code', name=op.f('uq_activity_code'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index('ix_activity_starts_at', ['starts_at'], unique=False)

    op.create_table('consent_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('purpose', sa.String(length=32), nullable=False),
    sa.Column('version', sa.String(length=16), nullable=False),
    sa.Column('granted_at', sa.DateTime(), nullable=False),
    sa.Column('withdrawn_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_record'))
    )
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.create_index('ix_consent_record_openid', ['openid', 'purpose'], unique=False)

    op.create_table('conversation_state',
    sa.Column('openid', sa.String(length=64), nullable=False),
    sa.Column('form', sa.String(length=48), nullable=True),
    sa.Column('step', sa.String(length=48), nullable=True),
    sa.Column('answers', sa.Text(), nullable=True),
    sa.Column('scratch', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('openid', name=op.f('pk_conversation_state'))
    )
    op.create_table('counter',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counter'))
    )
    op.create_table('faq_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=32), nullable=False),
    sa.Column('keywords', sa.String(length=400), nullable=False),
    sa.Column('answer', sa.Text(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_faq_entry')),
    sa.UniqueConstraint('topic', name=op.f('uq_faq_entry_topic'))
    )
    op.create_table('help_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('category', sa.String(length=24), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('attachments', sa.JSON(), nullable=False),
    sa.Column('urgency', sa.Enum('normal', 'urgent', name='urgency', native_enum=False, length=16), nullable=False),
    sa.Column('for_whom', sa.String(length=16), nullable=False),
    sa.Column('contact_name', sa.Text(), nullable=True),
    sa.Column('contact_phone', sa.Text(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('accepted', 'transferred', 'in_progress', 'resolved', 'visited', 'rejected', name='requeststatus', native_enum=False, length=24), nullable=False),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('due_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_help_request')),
    sa.UniqueConstraint('number', name=op.f('uq_help_request_number'))
    )
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.create_index('ix_help_request_openid', ['openid'], unique=False)
        batch_op.create_index('ix_help_request_status', ['status'], unique=False)

    op.create_table('household',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('town', sa.String(length=40), nullable=False),
    sa.Column('village', sa.String(length=40), nullable=False),
    sa.Column('address', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_household'))
    )
    op.create_table('notice',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=100), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('published_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notice'))
    )
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.create_index('ix_notice_published_at', ['published_at'], unique=False)

    op.create_table('referral',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('code', sa.String(length=60), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_referral'))
    )
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.create_index('ix_referral_code', ['code'], unique=False)

    op.create_table('status_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=32), nullable=False),
    sa.Column('subject_id', sa.Integer(), nullable=False),
    sa.Column('from_status', sa.String(length=24), nullable=True),
    sa.Column('to_status', sa.String(length=24), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_event'))
    )
    with op.batch_alter_table('status_event', schema=None) as batch_op:
        batch_op.create_index('ix_status_event_subject', ['subject', 'subject_id'], unique=False)

    op.create_table('volunteer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('mobile', sa.Text(), nullable=True),
    sa.Column('town', sa.String(length=40), nullable=False),
    sa.Column('village', sa.String(length=40), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('availability', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'approved', 'rejected', 'withdrawn', name='volunteerstatus', native_enum=False, length=24), nullable=False),
    sa.Column('service_minutes', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_volunteer')),
    sa.UniqueConstraint('number', name=op.f('uq_volunteer_number')),
    sa.UniqueConstraint('openid', name=op.f('uq_volunteer_openid'))
    )
    op.create_table('activity_signup',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('openid', sa.String(length=64), nullable=True),
    sa.Column('volunteer_id', sa.Integer(), nullable=True),
    sa.Column('status', sa.Enum('registered', 'waitlisted', 'cancelled', name='signupstatus', native_enum=False, length=16), nullable=False),
    sa.Column('queue_no', sa.Integer(), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_activity_signup_activity_id_activity')),
    sa.ForeignKeyConstraint(['volunteer_id'], ['volunteer.id'], name=op.f('fk_activity_signup_volunteer_id_volunteer')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_signup')),
    sa.UniqueConstraint('activity_id', 'openid', name=op.f('uq_activity_signup_activity_id'))
    )
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.create_index('ix_activity_signup_openid', ['openid'], unique=False)

    op.create_table('beneficiary',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('household_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('mobile', sa.Text(), nullable=True),
    sa.Column('id_number', sa.Text(), nullable=True),
    sa.Column('registered_by', sa.String(length=64), nullable=True),
    sa.Column('relation', sa.String(length=16), nullable=False),
    sa.Column('status', sa.Enum('pending', 'verified', 'rejected', 'erased', name='registrationstatus', native_enum=False, length=24), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['household.id'], name=op.f('fk_beneficiary_household_id_household')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiary')),
    sa.UniqueConstraint('number', name=op.f('uq_beneficiary_number'))
    )
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.create_index('ix_beneficiary_registered_by', ['registered_by'], unique=False)

    op.create_table('beneficiary_status',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('beneficiary_id', sa.Integer(), nullable=False),
    sa.Column('category', sa.Enum('SOLDIER', 'FAMILY', 'MARTYR_F', 'DUTY_F', 'ILL_F', 'DISABLED', 'DEMOB_OLD', 'ILL_RETURN', 'WAR_TEST', 'RURAL_OLD', 'MARTYR_CHILD', 'RED', 'MILITIA', 'VETERAN', name='beneficiarycategory', native_enum=False, length=16), nullable=False),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('evidence_ref', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['beneficiary_id'], ['beneficiary.id'], name=op.f('fk_beneficiary_status_beneficiary_id_beneficiary')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_beneficiary_status'))
    )
    with op.batch_alter_table('beneficiary_status', schema=None) as batch_op:
        batch_op.create_index('ix_beneficiary_status_beneficiary_id', ['beneficiary_id'], unique=False)

    _seed_faq()


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('beneficiary_status', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiary_status_beneficiary_id')

    op.drop_table('beneficiary_status')
    with op.batch_alter_table('beneficiary', schema=None) as batch_op:
        batch_op.drop_index('ix_beneficiary_registered_by')

    op.drop_table('beneficiary')
    with op.batch_alter_table('activity_signup', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_signup_openid')

    op.drop_table('activity_signup')
    op.drop_table('volunteer')
    with op.batch_alter_table('status_event', schema=None) as batch_op:
        batch_op.drop_index('ix_status_event_subject')

    op.drop_table('status_event')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_index('ix_referral_code')

    op.drop_table('referral')
    with op.batch_alter_table('notice', schema=None) as batch_op:
        batch_op.drop_index('ix_notice_published_at')

    op.drop_table('notice')
    op.drop_table('household')
    with op.batch_alter_table('help_request', schema=None) as batch_op:
        batch_op.drop_index('ix_help_request_status')
        batch_op.drop_index('ix_help_request_openid')

    op.drop_table('help_request')
    op.drop_table('faq_entry')
    op.drop_table('counter')
    op.drop_table('conversation_state')
    with op.batch_alter_table('consent_record', schema=None) as batch_op:
        batch_op.drop_index('ix_consent_record_openid')

    op.drop_table('consent_record')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index('ix_activity_starts_at')

    op.drop_table('activity')
